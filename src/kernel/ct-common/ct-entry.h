// Shared by routerd's ctnetlink helpers (routerd-ct-dump, routerd-ct-events):
// the entry they read from the kernel, its attribute parsing, and the compact
// line both print (16 fields; the format is described in each helper's header
// comment), formatted by hand into one buffer (obuf; each helper writes it out
// with its own flush_out): printf and inet_ntop took about as long as the
// kernel's dump itself at 100k entries. Kernel headers and libc only.
#ifndef ROUTERD_CT_ENTRY_H
#define ROUTERD_CT_ENTRY_H

#include <arpa/inet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

static char obuf[1 << 20];
static size_t olen;

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

/** Fill tb[type] with the attributes found in [data, data+len). */
static inline void parse_attrs(const unsigned char *data, size_t len, const struct nlattr **tb, int max) {
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

static inline uint16_t be16(const struct nlattr *a) {
  uint16_t v;
  memcpy(&v, PAYLOAD(a), 2);
  return ntohs(v);
}

static inline uint32_t be32(const struct nlattr *a) {
  uint32_t v;
  memcpy(&v, PAYLOAD(a), 4);
  return ntohl(v);
}

static inline void parse_tuple(const struct nlattr *nest, int v6, struct tuple *t) {
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

static inline void out_char(char c) { obuf[olen++] = c; }

static inline void out_str(const char *s) {
  size_t n = strlen(s);
  memcpy(obuf + olen, s, n);
  olen += n;
}

static inline void out_u64(uint64_t v) {
  char tmp[20];
  int n = 0;
  do tmp[n++] = (char)('0' + v % 10);
  while ((v /= 10) != 0);
  while (n) obuf[olen++] = tmp[--n];
}

static inline void out_addr(int family, const unsigned char *a) {
  if (family == AF_INET) {
    for (int i = 0; i < 4; i++) {
      if (i) out_char('.');
      out_u64(a[i]);
    }
    return;
  }
  char s[INET6_ADDRSTRLEN];
  inet_ntop(family, a, s, sizeof s);
  out_str(s);
}

static inline void out_field(uint64_t v) {
  out_char(' ');
  out_u64(v);
}

static inline void out_dash(void) {
  out_char(' ');
  out_char('-');
}

static inline void print_tuple(const struct tuple *t, int family) {
  out_char(' ');
  out_addr(family, t->src);
  out_char(' ');
  out_addr(family, t->dst);
  if (t->have_ports) out_field(t->sport), out_field(t->dport), out_dash();
  else if (t->have_icmp) out_field(t->type), out_field(t->code), out_field(t->id);
  else out_dash(), out_dash(), out_dash();
}

/**
 * A ctnetlink conntrack message's top-level attributes into tb (CTA_MAX + 1
 * slots); returns its family, or -1 when it is neither IPv4 nor IPv6 or lacks
 * either tuple.
 */
static inline int parse_message(const struct nlmsghdr *h, const struct nlattr **tb) {
  const struct nfgenmsg *g = NLMSG_DATA(h);
  int family = g->nfgen_family;
  if (family != AF_INET && family != AF_INET6) return -1;
  const unsigned char *attrs = (const unsigned char *)g + NLMSG_ALIGN(sizeof *g);
  size_t len = h->nlmsg_len - (size_t)(attrs - (const unsigned char *)h);
  parse_attrs(attrs, len, tb, CTA_MAX);
  return tb[CTA_TUPLE_ORIG] && tb[CTA_TUPLE_REPLY] ? family : -1;
}

/** The entry's attributes beside its tuples: status, timeout, mark, zone, TCP state. */
static inline void parse_entry_attrs(const struct nlattr *const *tb, struct entry *ep) {
  struct entry e = *ep;
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
  *ep = e;
}

/** The 16 fields of the compact line, from PROTONUM to the reply tuple, and the newline. */
static inline void print_entry(const struct entry *ep, int family) {
  const struct entry e = *ep;
  out_u64(e.orig.proto);
  out_field(e.zone);
  out_field(e.mark);
  out_field(e.status);
  out_field(e.timeout);
  if (e.tcp_state < 0) out_dash();
  else out_field((uint32_t)e.tcp_state);
  print_tuple(&e.orig, family);
  print_tuple(&e.reply, family);
  out_char('\n');
}

#endif
