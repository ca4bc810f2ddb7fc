// routerd-ct-delete: delete conntrack entries by their exact original tuple,
// one ctnetlink IPCTNL_MSG_CT_DELETE request each (a hash lookup in the
// kernel), instead of `conntrack -D`, which dumps and filters the whole table
// in userspace for every line (conntrack-tools 1.4.7; docs/nat-reconfig.md).
//
// Input on stdin, one entry per line, every line parsed before anything is sent:
//   tcp|udp SRC DST SPORT DPORT ZONE
//   icmp|icmpv6 SRC DST TYPE CODE ID ZONE
// SRC and DST are IPv4 or IPv6 addresses (both of one family).
// Output on stdout: "deleted D missing M failed F" (missing: no such entry, e.g.
// it ended meanwhile); one line per failure on stderr ("line N: error").
// Exit 0 when nothing failed, 1 when a request failed, 2 on bad input
// (nothing sent). Kernel headers only: no library beyond libc.
#include <arpa/inet.h>
#include <errno.h>
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

#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

struct entry {
  int family;
  uint8_t proto;
  unsigned char src[16], dst[16];
  uint16_t a, b, id; // ports (tcp/udp) or type, code (icmp)
  uint16_t zone;
};

static int parse_u16(const char *s, unsigned max, uint16_t *out) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || *s == '\0' || *end != '\0' || v > max) return -1;
  *out = (uint16_t)v;
  return 0;
}

static int parse_line(char *line, struct entry *e) {
  char *f[8];
  int n = 0;
  for (char *tok = strtok(line, " \t\n"); tok && n < 8; tok = strtok(NULL, " \t\n")) f[n++] = tok;
  if (n == 0) return 1; // blank
  memset(e, 0, sizeof *e);
  int icmp = 0;
  if (!strcmp(f[0], "tcp")) e->proto = IPPROTO_TCP;
  else if (!strcmp(f[0], "udp")) e->proto = IPPROTO_UDP;
  else if (!strcmp(f[0], "icmp")) e->proto = IPPROTO_ICMP, icmp = 1;
  else if (!strcmp(f[0], "icmpv6")) e->proto = IPPROTO_ICMPV6, icmp = 1;
  else return -1;
  if (n != (icmp ? 7 : 6)) return -1;
  if (inet_pton(AF_INET, f[1], e->src) == 1 && inet_pton(AF_INET, f[2], e->dst) == 1) e->family = AF_INET;
  else if (inet_pton(AF_INET6, f[1], e->src) == 1 && inet_pton(AF_INET6, f[2], e->dst) == 1) e->family = AF_INET6;
  else return -1;
  if ((e->proto == IPPROTO_ICMP && e->family != AF_INET) || (e->proto == IPPROTO_ICMPV6 && e->family != AF_INET6)) return -1;
  if (parse_u16(f[3], icmp ? 255 : 65535, &e->a) || parse_u16(f[4], icmp ? 255 : 65535, &e->b)) return -1;
  if (icmp && parse_u16(f[5], 65535, &e->id)) return -1;
  return parse_u16(f[icmp ? 6 : 5], 65535, &e->zone) ? -1 : 0;
}

struct buf {
  unsigned char *p;
  size_t len, cap;
};

static void *put(struct buf *b, size_t n) {
  size_t need = b->len + NLMSG_ALIGN(n);
  if (need > b->cap) {
    b->cap = need * 2;
    b->p = realloc(b->p, b->cap);
    if (!b->p) exit(3);
  }
  void *at = b->p + b->len;
  memset(at, 0, NLMSG_ALIGN(n));
  b->len = need;
  return at;
}

static void attr(struct buf *b, uint16_t type, const void *data, uint16_t len) {
  struct nlattr *a = put(b, NLA_HDRLEN + len);
  a->nla_type = type;
  a->nla_len = NLA_HDRLEN + len;
  memcpy((unsigned char *)a + NLA_HDRLEN, data, len);
}

static size_t nest_start(struct buf *b, uint16_t type) {
  size_t off = b->len;
  struct nlattr *a = put(b, NLA_HDRLEN);
  a->nla_type = type | NLA_F_NESTED;
  return off;
}

static void nest_end(struct buf *b, size_t off) {
  ((struct nlattr *)(b->p + off))->nla_len = (uint16_t)(b->len - off);
}

static void request(struct buf *b, const struct entry *e, uint32_t seq) {
  size_t start = b->len;
  struct nlmsghdr *h = put(b, NLMSG_HDRLEN);
  h->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
  h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  h->nlmsg_seq = seq;
  struct nfgenmsg *g = put(b, sizeof(struct nfgenmsg));
  g->nfgen_family = (uint8_t)e->family;
  g->version = NFNETLINK_V0;
  size_t tuple = nest_start(b, CTA_TUPLE_ORIG);
  size_t ip = nest_start(b, CTA_TUPLE_IP);
  int v4 = e->family == AF_INET;
  attr(b, v4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC, e->src, v4 ? 4 : 16);
  attr(b, v4 ? CTA_IP_V4_DST : CTA_IP_V6_DST, e->dst, v4 ? 4 : 16);
  nest_end(b, ip);
  size_t proto = nest_start(b, CTA_TUPLE_PROTO);
  attr(b, CTA_PROTO_NUM, &e->proto, 1);
  if (e->proto == IPPROTO_TCP || e->proto == IPPROTO_UDP) {
    uint16_t sp = htons(e->a), dp = htons(e->b);
    attr(b, CTA_PROTO_SRC_PORT, &sp, 2);
    attr(b, CTA_PROTO_DST_PORT, &dp, 2);
  } else {
    int v6 = e->proto == IPPROTO_ICMPV6;
    uint8_t type = (uint8_t)e->a, code = (uint8_t)e->b;
    uint16_t id = htons(e->id);
    attr(b, v6 ? CTA_PROTO_ICMPV6_ID : CTA_PROTO_ICMP_ID, &id, 2);
    attr(b, v6 ? CTA_PROTO_ICMPV6_TYPE : CTA_PROTO_ICMP_TYPE, &type, 1);
    attr(b, v6 ? CTA_PROTO_ICMPV6_CODE : CTA_PROTO_ICMP_CODE, &code, 1);
  }
  nest_end(b, proto);
  nest_end(b, tuple);
  uint16_t zone = htons(e->zone);
  attr(b, CTA_ZONE, &zone, 2);
  ((struct nlmsghdr *)(b->p + start))->nlmsg_len = (uint32_t)(b->len - start);
}

#define CHUNK 512

int main(void) {
  size_t n = 0, cap = 1024;
  struct entry *entries = malloc(cap * sizeof *entries);
  size_t *lines = malloc(cap * sizeof *lines);
  char *line = NULL;
  size_t linecap = 0;
  size_t lineno = 0;
  if (!entries || !lines) return 3;
  while (getline(&line, &linecap, stdin) >= 0) {
    lineno++;
    if (n == cap) {
      cap *= 2;
      entries = realloc(entries, cap * sizeof *entries);
      lines = realloc(lines, cap * sizeof *lines);
      if (!entries || !lines) return 3;
    }
    int r = parse_line(line, &entries[n]);
    if (r < 0) {
      fprintf(stderr, "line %zu: malformed (want: tcp|udp SRC DST SPORT DPORT ZONE, or icmp|icmpv6 SRC DST TYPE CODE ID ZONE)\n", lineno);
      return 2;
    }
    if (r == 0) lines[n++] = lineno;
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) {
    perror("socket(AF_NETLINK, NETLINK_NETFILTER)");
    return 1;
  }
  int one = 1, rcv = 4 << 20;
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  size_t deleted = 0, missing = 0, failed = 0;
  struct buf b = {0};
  static unsigned char rbuf[1 << 16];
  for (size_t first = 0; first < n; first += CHUNK) {
    size_t count = n - first < CHUNK ? n - first : CHUNK;
    b.len = 0;
    for (size_t i = 0; i < count; i++) request(&b, &entries[first + i], (uint32_t)(first + i + 1));
    if (sendto(fd, b.p, b.len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
      perror("sendto");
      return 1;
    }
    size_t acked = 0;
    while (acked < count) {
      ssize_t got = recv(fd, rbuf, sizeof rbuf, 0);
      if (got < 0) {
        if (errno == EINTR) continue;
        perror("recv");
        return 1;
      }
      for (struct nlmsghdr *h = (struct nlmsghdr *)rbuf; NLMSG_OK(h, (size_t)got); h = NLMSG_NEXT(h, got)) {
        if (h->nlmsg_type != NLMSG_ERROR) continue;
        int err = -((struct nlmsgerr *)NLMSG_DATA(h))->error;
        size_t idx = h->nlmsg_seq - 1;
        acked++;
        if (err == 0) deleted++;
        else if (err == ENOENT) missing++;
        else {
          failed++;
          fprintf(stderr, "line %zu: %s\n", idx < n ? lines[idx] : 0, strerror(err));
        }
      }
    }
  }
  printf("deleted %zu missing %zu failed %zu\n", deleted, missing, failed);
  return failed ? 1 : 0;
}
