// routerd-ct-dump: list the conntrack entries source-NATed to given addresses,
// one compact line each, through one ctnetlink dump per address that the
// kernel filters itself (CTA_FILTER on the reply tuple's destination, Linux
// 5.8+), instead of `conntrack -L -o extended --src-nat ADDR`, which formats
// every entry of the table as text for Node to parse back (docs/nat-reconfig.md).
//
// Usage: routerd-ct-dump ADDR...   (IPv4 or IPv6 addresses)
// Output on stdout, one entry per line, 16 fields separated by one space,
// "-" where a field does not apply:
//   PROTONUM ZONE MARK STATUS TIMEOUT TCPSTATE OSRC ODST OA OB OID RSRC RDST RA RB RID
// STATUS is the kernel's status bit field in decimal, TCPSTATE the kernel's
// TCP conntrack state number; OA/OB and RA/RB are the ports (TCP, UDP, SCTP,
// DCCP, UDP-Lite) or ICMP type and code, OID/RID the ICMP id.
// Only entries whose reply destination is one of the addresses are printed:
// an older kernel that ignores the filter costs time, not correctness. Whether
// the entry is source-NATed (reply destination other than the original
// source) is left to the caller. The last line is "end N" (entries printed):
// a reader that does not see it got a truncated listing.
// Exit 0 on success, 1 on a netlink error, 2 on bad arguments.
// Kernel headers only: no library beyond libc.
#define _GNU_SOURCE // F_SETPIPE_SZ
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
#include <unistd.h>

#include "../ct-common/ct-entry.h"

// The kernel's CTA_FILTER_FLAG(CTA_IP_DST) (net/netfilter/nf_conntrack_netlink.c).
#define FILTER_F_IP_DST (1u << 1)

static size_t put_attr(unsigned char *buf, size_t off, uint16_t type, const void *data, uint16_t len) {
  struct nlattr *a = (struct nlattr *)(buf + off);
  a->nla_type = type;
  a->nla_len = NLA_HDRLEN + len;
  memcpy(buf + off + NLA_HDRLEN, data, len);
  size_t end = off + NLA_ALIGN(a->nla_len);
  memset(buf + off + a->nla_len, 0, end - off - a->nla_len);
  return end;
}

// The line buffer (obuf, ct-entry.h) goes out here.

static void flush_out(void) {
  if (olen && fwrite(obuf, 1, olen, stdout) != olen) exit(1);
  olen = 0;
}

static size_t printed;

/** One ctnetlink message of the dump: print it when its reply destination is `want`. */
static void entry(const struct nlmsghdr *h, const struct addr *want) {
  const struct nlattr *tb[CTA_MAX + 1];
  int family = parse_message(h, tb);
  if (family != want->family) return;
  struct entry e = {.tcp_state = -1};
  int v6 = family == AF_INET6;
  parse_tuple(tb[CTA_TUPLE_ORIG], v6, &e.orig);
  parse_tuple(tb[CTA_TUPLE_REPLY], v6, &e.reply);
  if (!e.orig.have_ip || !e.reply.have_ip || memcmp(e.reply.dst, want->bytes, v6 ? 16 : 4) != 0) return;
  parse_entry_attrs(tb, &e);
  if (olen > sizeof obuf - 512) flush_out();
  print_entry(&e, family);
  printed++;
}

/** One filtered dump: every entry whose reply tuple's destination is `want`. */
static int dump(int fd, const struct addr *want) {
  static unsigned char req[256];
  memset(req, 0, sizeof req);
  struct nlmsghdr *h = (struct nlmsghdr *)req;
  h->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
  h->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  h->nlmsg_seq = 1;
  struct nfgenmsg *g = NLMSG_DATA(h);
  g->nfgen_family = (uint8_t)want->family;
  g->version = NFNETLINK_V0;
  size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof *g);
  // CTA_TUPLE_REPLY { CTA_TUPLE_IP { CTA_IP_V4_DST | CTA_IP_V6_DST } }
  size_t tuple = off, ip = off + NLA_HDRLEN;
  off = put_attr(req, ip + NLA_HDRLEN, want->family == AF_INET6 ? CTA_IP_V6_DST : CTA_IP_V4_DST, want->bytes, want->family == AF_INET6 ? 16 : 4);
  *(struct nlattr *)(req + ip) = (struct nlattr){.nla_len = (uint16_t)(off - ip), .nla_type = CTA_TUPLE_IP | NLA_F_NESTED};
  *(struct nlattr *)(req + tuple) = (struct nlattr){.nla_len = (uint16_t)(off - tuple), .nla_type = CTA_TUPLE_REPLY | NLA_F_NESTED};
  // CTA_FILTER { CTA_FILTER_REPLY_FLAGS = IP_DST } (host byte order, as the kernel reads it)
  size_t filter = off;
  uint32_t flags = FILTER_F_IP_DST;
  off = put_attr(req, filter + NLA_HDRLEN, CTA_FILTER_REPLY_FLAGS, &flags, 4);
  *(struct nlattr *)(req + filter) = (struct nlattr){.nla_len = (uint16_t)(off - filter), .nla_type = CTA_FILTER | NLA_F_NESTED};
  h->nlmsg_len = (uint32_t)off;
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  if (sendto(fd, req, off, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
    perror("sendto");
    return -1;
  }
  static unsigned char buf[1 << 20];
  for (;;) {
    ssize_t got = recv(fd, buf, sizeof buf, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      perror("recv");
      return -1;
    }
    for (struct nlmsghdr *m = (struct nlmsghdr *)buf; NLMSG_OK(m, (size_t)got); m = NLMSG_NEXT(m, got)) {
      if (m->nlmsg_type == NLMSG_DONE) return 0;
      if (m->nlmsg_type == NLMSG_ERROR) {
        int err = -((struct nlmsgerr *)NLMSG_DATA(m))->error;
        if (err == 0) continue;
        fprintf(stderr, "conntrack dump: %s\n", strerror(err));
        return -1;
      }
      if ((m->nlmsg_type & 0xff) == IPCTNL_MSG_CT_NEW) entry(m, want);
    }
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: routerd-ct-dump ADDR...\n");
    return 2;
  }
  struct addr *want = calloc((size_t)argc, sizeof *want);
  if (!want) return 3;
  for (int i = 1; i < argc; i++) {
    if (inet_pton(AF_INET, argv[i], want[i].bytes) == 1) want[i].family = AF_INET;
    else if (inet_pton(AF_INET6, argv[i], want[i].bytes) == 1) want[i].family = AF_INET6;
    else {
      fprintf(stderr, "not an IP address: %s\n", argv[i]);
      return 2;
    }
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) {
    perror("socket(AF_NETLINK, NETLINK_NETFILTER)");
    return 1;
  }
  int rcv = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  // A bigger pipe (when stdout is one) means fewer wake-ups of the reader; an error leaves the default.
  fcntl(STDOUT_FILENO, F_SETPIPE_SZ, 1 << 20);
  for (int i = 1; i < argc; i++)
    if (dump(fd, &want[i]) < 0) return 1;
  flush_out();
  printf("end %zu\n", printed);
  return fflush(stdout) == 0 ? 0 : 1;
}
