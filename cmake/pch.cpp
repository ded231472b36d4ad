// The file that compiles a group's precompiled header (cmake/GatehousePch.cmake): the build
// includes the group's headers ahead of it.
