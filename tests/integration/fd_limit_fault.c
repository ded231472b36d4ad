/* Preloaded into one test's server: while the file named by GH_TEST_FD_FAULT exists, accept(),
 * accept4() and socket() fail with EMFILE, as they do at the open-file limit. Exhausting the real
 * limit instead breaks the sanitizers' own checks (UBSan tests memory through a pipe it cannot
 * open), so the server under test would die of the test, not of its code. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static int failing(void) {
  const char *file = getenv("GH_TEST_FD_FAULT");
  return file != NULL && access(file, F_OK) == 0;
}

int accept(int fd, struct sockaddr *addr, socklen_t *len) {
  static int (*real)(int, struct sockaddr *, socklen_t *);
  if (failing()) {
    errno = EMFILE;
    return -1;
  }
  if (real == NULL) real = (int (*)(int, struct sockaddr *, socklen_t *))dlsym(RTLD_NEXT, "accept");
  return real(fd, addr, len);
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
  static int (*real)(int, struct sockaddr *, socklen_t *, int);
  if (failing()) {
    errno = EMFILE;
    return -1;
  }
  if (real == NULL)
    real = (int (*)(int, struct sockaddr *, socklen_t *, int))dlsym(RTLD_NEXT, "accept4");
  return real(fd, addr, len, flags);
}

int socket(int domain, int type, int protocol) {
  static int (*real)(int, int, int);
  if (failing()) {
    errno = EMFILE;
    return -1;
  }
  if (real == NULL) real = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
  return real(domain, type, protocol);
}
