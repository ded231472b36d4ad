# A package, so that this folder's conftest and helpers never shadow tests/integration's
# `conftest` module when both folders are collected in one pytest run.
