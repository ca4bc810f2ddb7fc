// routerd-ct-events: follow the kernel's conntrack events (ctnetlink multicast
// groups NEW, UPDATE, DESTROY) for the entries source-NATed to given
// addresses, one compact line each, on one netlink socket whose receive buffer
// is the size asked for. `conntrack -E --buffer-size` (conntrack-tools 1.4.7)
// grows a socket without event groups and reads its events through the kernel
// default (docs/kernel-facts.md), so stream session sync overran under bursts
// (bench/RESULTS.md, session-sync-burst; docs/session-sync.md).
//
// Usage: routerd-ct-events [-b BYTES] [-e new,update,destroy] [-t] ADDR...
//   -b  receive buffer to ask for (default 64 MiB): SO_RCVBUFFORCE (root, past
//       net.core.rmem_max), else SO_RCVBUF (capped at rmem_max)
//   -e  the event groups to join (default all three)
//   -t  each event line carries the time its read batch returned
//   ADDR  IPv4 or IPv6 addresses; only events whose reply tuple's destination
//         is one of them are printed (filtered here: the kernel has no filter
//         for multicast events)
// Output on stdout, first "rcvbuf ASKED GOT": GOT is getsockopt(SO_RCVBUF), the
// kernel's doubled figure (it counts its bookkeeping), so GOT >= ASKED means
// the size was granted. Then one line per event:
//   TYPE [SEC.USEC] PROTONUM ZONE MARK STATUS TIMEOUT TCPSTATE OSRC ODST OA OB OID RSRC RDST RA RB RID
// TYPE is NEW, UPDATE or DESTROY; SEC.USEC (with -t) the CLOCK_REALTIME of the
// read; the 16 fields are routerd-ct-dump's ("-" where a field does not apply;
// an event carries what changed: TCPSTATE only when the state changed, TIMEOUT
// 0 on DESTROY, MARK 0 when the kernel left the unset mark out). When the
// socket overran (ENOBUFS: the kernel dropped events) a line "overrun N" (N
// overruns so far) and reading goes on; the reader must resync from a dump.
// NETLINK_BROADCAST_ERROR is set (as conntrackd's NetlinkEventsReliable): the
// kernel then keeps an entry whose DESTROY it could not deliver and sends the
// event again later, and marks undelivered NEW/UPDATE events to go with the
// entry's next one. stdout is written once per read batch, not per line.
// Runs until killed or stdout closes. Exit 1 on a netlink error, 2 on bad
// arguments, 3 out of memory. Kernel headers only: no library beyond libc.
#define _GNU_SOURCE // recvmmsg, F_SETPIPE_SZ
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../ct-common/ct-entry.h"

#ifndef NETLINK_BROADCAST_ERROR
#define NETLINK_BROADCAST_ERROR 4
#endif

static struct addr *wanted;
static int nwanted;
static int stamp;

// The line buffer (obuf, ct-entry.h) goes out here.

static void flush_out(void) {
  size_t off = 0;
  while (off < olen) {
    ssize_t n = write(STDOUT_FILENO, obuf + off, olen - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      exit(errno == EPIPE ? 0 : 1);
    }
    off += (size_t)n;
  }
  olen = 0;
}

static int is_wanted(int family, const unsigned char *dst) {
  for (int i = 0; i < nwanted; i++)
    if (wanted[i].family == family && memcmp(wanted[i].bytes, dst, family == AF_INET6 ? 16 : 4) == 0) return 1;
  return 0;
}

/** One event message: print it when its reply destination is one of the addresses. */
static void event(const struct nlmsghdr *h, const struct timespec *now) {
  if ((h->nlmsg_type >> 8) != NFNL_SUBSYS_CTNETLINK || h->nlmsg_len < NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg))) return;
  const char *type;
  switch (h->nlmsg_type & 0xff) {
  case IPCTNL_MSG_CT_NEW:
    // The kernel marks a new entry's event with NLM_F_CREATE|NLM_F_EXCL (ctnetlink_conntrack_event).
    type = h->nlmsg_flags & (NLM_F_CREATE | NLM_F_EXCL) ? "NEW" : "UPDATE";
    break;
  case IPCTNL_MSG_CT_DELETE:
    type = "DESTROY";
    break;
  default:
    return;
  }
  const struct nlattr *tb[CTA_MAX + 1];
  int family = parse_message(h, tb);
  if (family < 0) return;
  struct entry e = {.tcp_state = -1};
  int v6 = family == AF_INET6;
  parse_tuple(tb[CTA_TUPLE_REPLY], v6, &e.reply);
  if (!e.reply.have_ip || !is_wanted(family, e.reply.dst)) return;
  parse_tuple(tb[CTA_TUPLE_ORIG], v6, &e.orig);
  if (!e.orig.have_ip) return;
  parse_entry_attrs(tb, &e);
  if (olen > sizeof obuf - 512) flush_out();
  out_str(type);
  if (stamp) {
    out_field((uint64_t)now->tv_sec);
    out_char('.');
    long us = now->tv_nsec / 1000;
    for (long d = 100000; d > 0; d /= 10) out_char((char)('0' + (us / d) % 10));
  }
  out_char(' ');
  print_entry(&e, family);
}

static int parse_groups(const char *s, unsigned *groups) {
  char *copy = strdup(s);
  if (!copy) exit(3);
  *groups = 0;
  for (char *save = NULL, *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
    if (strcmp(w, "new") == 0) *groups |= 1u << NFNLGRP_CONNTRACK_NEW;
    else if (strcmp(w, "update") == 0) *groups |= 1u << NFNLGRP_CONNTRACK_UPDATE;
    else if (strcmp(w, "destroy") == 0) *groups |= 1u << NFNLGRP_CONNTRACK_DESTROY;
    else {
      free(copy);
      return -1;
    }
  }
  free(copy);
  return *groups ? 0 : -1;
}

#define BATCH 256
#define MSG_BYTES 8192

int main(int argc, char **argv) {
  long long asked = 64LL << 20;
  unsigned groups = (1u << NFNLGRP_CONNTRACK_NEW) | (1u << NFNLGRP_CONNTRACK_UPDATE) | (1u << NFNLGRP_CONNTRACK_DESTROY);
  int opt;
  while ((opt = getopt(argc, argv, "b:e:t")) != -1) {
    switch (opt) {
    case 'b': {
      char *end;
      errno = 0;
      asked = strtoll(optarg, &end, 10);
      if (errno || *end || end == optarg || asked < 4096 || asked > (1LL << 30)) {
        fprintf(stderr, "-b: want bytes from 4096 to 1073741824: %s\n", optarg);
        return 2;
      }
      break;
    }
    case 'e':
      if (parse_groups(optarg, &groups) < 0) {
        fprintf(stderr, "-e: want a comma-separated list of new, update, destroy: %s\n", optarg);
        return 2;
      }
      break;
    case 't':
      stamp = 1;
      break;
    default:
      fprintf(stderr, "usage: routerd-ct-events [-b BYTES] [-e new,update,destroy] [-t] ADDR...\n");
      return 2;
    }
  }
  if (optind >= argc) {
    fprintf(stderr, "usage: routerd-ct-events [-b BYTES] [-e new,update,destroy] [-t] ADDR...\n");
    return 2;
  }
  nwanted = argc - optind;
  wanted = calloc((size_t)nwanted, sizeof *wanted);
  if (!wanted) return 3;
  for (int i = 0; i < nwanted; i++) {
    const char *a = argv[optind + i];
    if (inet_pton(AF_INET, a, wanted[i].bytes) == 1) wanted[i].family = AF_INET;
    else if (inet_pton(AF_INET6, a, wanted[i].bytes) == 1) wanted[i].family = AF_INET6;
    else {
      fprintf(stderr, "not an IP address: %s\n", a);
      return 2;
    }
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) {
    perror("socket(AF_NETLINK, NETLINK_NETFILTER)");
    return 1;
  }
  int size = (int)asked;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) < 0) {
    perror("setsockopt(SO_RCVBUF)");
    return 1;
  }
  int one = 1;
  if (setsockopt(fd, SOL_NETLINK, NETLINK_BROADCAST_ERROR, &one, sizeof one) < 0) {
    perror("setsockopt(NETLINK_BROADCAST_ERROR)");
    return 1;
  }
  struct sockaddr_nl local = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) {
    perror("bind");
    return 1;
  }
  for (unsigned g = 1; g < 32; g++) {
    if (!(groups & (1u << g))) continue;
    int group = (int)g;
    if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0) {
      perror("setsockopt(NETLINK_ADD_MEMBERSHIP)");
      return 1;
    }
  }
  int got = 0;
  socklen_t gl = sizeof got;
  if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &gl) < 0) {
    perror("getsockopt(SO_RCVBUF)");
    return 1;
  }
  // A bigger pipe (when stdout is one) means fewer wake-ups of the reader; an error leaves the default.
  fcntl(STDOUT_FILENO, F_SETPIPE_SZ, 1 << 20);
  out_str("rcvbuf");
  out_field((uint64_t)asked);
  out_field((uint64_t)got);
  out_char('\n');
  flush_out();

  static unsigned char bufs[BATCH][MSG_BYTES];
  static struct iovec iov[BATCH];
  static struct mmsghdr msgs[BATCH];
  unsigned long long overruns = 0;
  for (;;) {
    for (int i = 0; i < BATCH; i++) {
      iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = MSG_BYTES};
      msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
    }
    // Blocks for the first message, then takes what is queued, up to BATCH.
    int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {
        overruns++;
        out_str("overrun");
        out_field(overruns);
        out_char('\n');
        flush_out();
        continue;
      }
      perror("recvmmsg");
      flush_out();
      return 1;
    }
    struct timespec now = {0};
    if (stamp) clock_gettime(CLOCK_REALTIME, &now);
    for (int i = 0; i < n; i++) {
      if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) continue; // an event never comes near MSG_BYTES
      const unsigned char *p = bufs[i];
      size_t len = msgs[i].msg_len;
      while (len >= NLMSG_HDRLEN) {
        const struct nlmsghdr *m = (const struct nlmsghdr *)p;
        if (m->nlmsg_len < NLMSG_HDRLEN || m->nlmsg_len > len) break;
        if (m->nlmsg_type != NLMSG_ERROR && m->nlmsg_type != NLMSG_DONE) event(m, &now);
        size_t step = NLMSG_ALIGN(m->nlmsg_len);
        if (step >= len) break;
        p += step;
        len -= step;
      }
    }
    // Written once per batch: when the queue was drained (fewer than BATCH) or output piles up.
    if (n < BATCH || olen > sizeof obuf / 4) flush_out();
  }
}
