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

// The kernel's CTA_FILTER_FLAG(CTA_IP_DST) (net/netfilter/nf_conntrack_netlink.c).
#define FILTER_F_IP_DST (1u << 1)

struct addr {
  int family;
  unsigned char bytes[16];
};

struct tuple {
  int have_ip, have_ports, have_icmp;
  unsigned char src[16], dst[16];
  uint8_t proto;
  uint16_t sport, dport, id;
  uint8_t type, code;
};

struct entry {
  struct tuple orig, reply;
  uint32_t status, timeout, mark;
  uint16_t zone;
  int tcp_state; // -1: none
};

static size_t put_attr(unsigned char *buf, size_t off, uint16_t type, const void *data, uint16_t len) {
  struct nlattr *a = (struct nlattr *)(buf + off);
  a->nla_type = type;
  a->nla_len = NLA_HDRLEN + len;
  memcpy(buf + off + NLA_HDRLEN, data, len);
  size_t end = off + NLA_ALIGN(a->nla_len);
  memset(buf + off + a->nla_len, 0, end - off - a->nla_len);
  return end;
}

/** Fill tb[type] with the attributes found in [data, data+len). */
static void parse_attrs(const unsigned char *data, size_t len, const struct nlattr **tb, int max) {
  memset(tb, 0, sizeof(*tb) * (size_t)(max + 1));
  while (len >= NLA_HDRLEN) {
    const struct nlattr *a = (const struct nlattr *)data;
    if (a->nla_len < NLA_HDRLEN || a->nla_len > len) return;
    int type = a->nla_type & NLA_TYPE_MASK;
    if (type <= max) tb[type] = a;
    size_t step = NLA_ALIGN(a->nla_len);
    if (step >= len) return;
    data += step;
    len -= step;
  }
}

#define PAYLOAD(a) ((const unsigned char *)(a) + NLA_HDRLEN)
#define PLEN(a) ((size_t)((a)->nla_len - NLA_HDRLEN))

static uint16_t be16(const struct nlattr *a) {
  uint16_t v;
  memcpy(&v, PAYLOAD(a), 2);
  return ntohs(v);
}

static uint32_t be32(const struct nlattr *a) {
  uint32_t v;
  memcpy(&v, PAYLOAD(a), 4);
  return ntohl(v);
}

static void parse_tuple(const struct nlattr *nest, int v6, struct tuple *t) {
  const struct nlattr *tb[CTA_TUPLE_MAX + 1], *ip[CTA_IP_MAX + 1], *pr[CTA_PROTO_MAX + 1];
  memset(t, 0, sizeof *t);
  parse_attrs(PAYLOAD(nest), PLEN(nest), tb, CTA_TUPLE_MAX);
  if (tb[CTA_TUPLE_IP]) {
    parse_attrs(PAYLOAD(tb[CTA_TUPLE_IP]), PLEN(tb[CTA_TUPLE_IP]), ip, CTA_IP_MAX);
    const struct nlattr *s = ip[v6 ? CTA_IP_V6_SRC : CTA_IP_V4_SRC], *d = ip[v6 ? CTA_IP_V6_DST : CTA_IP_V4_DST];
    size_t n = v6 ? 16 : 4;
    if (s && d && PLEN(s) >= n && PLEN(d) >= n) {
      memcpy(t->src, PAYLOAD(s), n);
      memcpy(t->dst, PAYLOAD(d), n);
      t->have_ip = 1;
    }
  }
  if (tb[CTA_TUPLE_PROTO]) {
    parse_attrs(PAYLOAD(tb[CTA_TUPLE_PROTO]), PLEN(tb[CTA_TUPLE_PROTO]), pr, CTA_PROTO_MAX);
    if (pr[CTA_PROTO_NUM]) t->proto = *PAYLOAD(pr[CTA_PROTO_NUM]);
    if (pr[CTA_PROTO_SRC_PORT] && pr[CTA_PROTO_DST_PORT]) {
      t->sport = be16(pr[CTA_PROTO_SRC_PORT]);
      t->dport = be16(pr[CTA_PROTO_DST_PORT]);
      t->have_ports = 1;
    }
    int i6 = t->proto == IPPROTO_ICMPV6;
    const struct nlattr *ty = pr[i6 ? CTA_PROTO_ICMPV6_TYPE : CTA_PROTO_ICMP_TYPE], *co = pr[i6 ? CTA_PROTO_ICMPV6_CODE : CTA_PROTO_ICMP_CODE],
                        *id = pr[i6 ? CTA_PROTO_ICMPV6_ID : CTA_PROTO_ICMP_ID];
    if (ty && co && id) {
      t->type = *PAYLOAD(ty);
      t->code = *PAYLOAD(co);
      t->id = be16(id);
      t->have_icmp = 1;
    }
  }
}

// Output is formatted by hand into one buffer: at 100k entries printf and
// inet_ntop took about as long as the kernel's dump itself.
static char obuf[1 << 20];
static size_t olen;

static void flush_out(void) {
  if (olen && fwrite(obuf, 1, olen, stdout) != olen) exit(1);
  olen = 0;
}

static void out_char(char c) { obuf[olen++] = c; }

static void out_u32(uint32_t v) {
  char tmp[10];
  int n = 0;
  do tmp[n++] = (char)('0' + v % 10);
  while ((v /= 10) != 0);
  while (n) obuf[olen++] = tmp[--n];
}

static void out_addr(int family, const unsigned char *a) {
  if (family == AF_INET) {
    for (int i = 0; i < 4; i++) {
      if (i) out_char('.');
      out_u32(a[i]);
    }
    return;
  }
  char s[INET6_ADDRSTRLEN];
  inet_ntop(family, a, s, sizeof s);
  size_t n = strlen(s);
  memcpy(obuf + olen, s, n);
  olen += n;
}

static void out_field_u32(uint32_t v) {
  out_char(' ');
  out_u32(v);
}

static void out_dash(void) {
  out_char(' ');
  out_char('-');
}

static void print_tuple(const struct tuple *t, int family) {
  out_char(' ');
  out_addr(family, t->src);
  out_char(' ');
  out_addr(family, t->dst);
  if (t->have_ports) out_field_u32(t->sport), out_field_u32(t->dport), out_dash();
  else if (t->have_icmp) out_field_u32(t->type), out_field_u32(t->code), out_field_u32(t->id);
  else out_dash(), out_dash(), out_dash();
}

static size_t printed;

/** One ctnetlink message of the dump: print it when its reply destination is `want`. */
static void entry(const struct nlmsghdr *h, const struct addr *want) {
  const struct nfgenmsg *g = NLMSG_DATA(h);
  int family = g->nfgen_family;
  if (family != want->family) return;
  const unsigned char *attrs = (const unsigned char *)g + NLMSG_ALIGN(sizeof *g);
  size_t len = h->nlmsg_len - (size_t)(attrs - (const unsigned char *)h);
  const struct nlattr *tb[CTA_MAX + 1];
  parse_attrs(attrs, len, tb, CTA_MAX);
  if (!tb[CTA_TUPLE_ORIG] || !tb[CTA_TUPLE_REPLY]) return;
  struct entry e = {.tcp_state = -1};
  int v6 = family == AF_INET6;
  parse_tuple(tb[CTA_TUPLE_ORIG], v6, &e.orig);
  parse_tuple(tb[CTA_TUPLE_REPLY], v6, &e.reply);
  if (!e.orig.have_ip || !e.reply.have_ip || memcmp(e.reply.dst, want->bytes, v6 ? 16 : 4) != 0) return;
  if (tb[CTA_STATUS]) e.status = be32(tb[CTA_STATUS]);
  if (tb[CTA_TIMEOUT]) e.timeout = be32(tb[CTA_TIMEOUT]);
  if (tb[CTA_MARK]) e.mark = be32(tb[CTA_MARK]);
  if (tb[CTA_ZONE]) e.zone = be16(tb[CTA_ZONE]);
  if (tb[CTA_PROTOINFO]) {
    const struct nlattr *pi[CTA_PROTOINFO_MAX + 1], *tcp[CTA_PROTOINFO_TCP_MAX + 1];
    parse_attrs(PAYLOAD(tb[CTA_PROTOINFO]), PLEN(tb[CTA_PROTOINFO]), pi, CTA_PROTOINFO_MAX);
    if (pi[CTA_PROTOINFO_TCP]) {
      parse_attrs(PAYLOAD(pi[CTA_PROTOINFO_TCP]), PLEN(pi[CTA_PROTOINFO_TCP]), tcp, CTA_PROTOINFO_TCP_MAX);
      if (tcp[CTA_PROTOINFO_TCP_STATE]) e.tcp_state = *PAYLOAD(tcp[CTA_PROTOINFO_TCP_STATE]);
    }
  }
  if (olen > sizeof obuf - 512) flush_out();
  out_u32(e.orig.proto);
  out_field_u32(e.zone);
  out_field_u32(e.mark);
  out_field_u32(e.status);
  out_field_u32(e.timeout);
  if (e.tcp_state < 0) out_dash();
  else out_field_u32((uint32_t)e.tcp_state);
  print_tuple(&e.orig, family);
  print_tuple(&e.reply, family);
  out_char('\n');
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
