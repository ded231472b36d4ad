# Tidies the man page help2man made from `gatehouse --help`:
#   cmake -DIN=gatehouse.1.raw -DOUT=gatehouse.1 -P manpage.cmake
# The help lists each setting as its name on one line and its meaning indented on the next, which
# help2man turns into two plain paragraphs; here the list becomes an ENVIRONMENT section with one
# tagged paragraph per setting (.TP, the name in bold). Anything else passes unchanged, so a
# change in the help's wording only makes the page plainer.
file(READ "${IN}" page)
string(REGEX MATCH "\n\\.SS \"((Settings|Environment)[^\"]*)\"\n" heading "${page}")
if(heading)
  string(REPLACE "-" "\\-" intro "${CMAKE_MATCH_1}")
  string(REPLACE "${heading}" "\n.SH ENVIRONMENT\n${intro}\n" page "${page}")
  string(REGEX REPLACE "\n\\.IP\n([A-Z][A-Z0-9_]+)\n\\.IP\n" "\n.TP\n.B \\1\n" page "${page}")
endif()
file(WRITE "${OUT}" "${page}")
