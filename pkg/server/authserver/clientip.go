package authserver

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientIP finds the address of the client that sent r, for rate limits,
// sessions.ip and audit entries.
//
// The gateway appends the address it saw to X-Forwarded-For, so the entries
// to believe are the right-most ones, and only those added by trusted hops:
// starting from the TCP peer, while the current hop is a trusted proxy, step
// one entry left in X-Forwarded-For. The first untrusted address (or the
// left-most entry, when every hop is trusted) is the client. A request whose
// peer is not trusted is answered by the peer's address alone, so a client
// talking to the server directly cannot pick its own rate-limit bucket.
func clientIP(r *http.Request, trusted []netip.Prefix) string {
	client := parseIP(r.RemoteAddr)
	// No TCP peer means an in-process call (the embedded gateway): trust it.
	hopTrusted := !client.IsValid() || isTrusted(client, trusted)
	entries := xffEntries(r)
	for i := len(entries) - 1; i >= 0 && hopTrusted; i-- {
		ip := parseIP(entries[i])
		if !ip.IsValid() {
			break // garbage: stop believing the chain here
		}
		client = ip
		hopTrusted = isTrusted(ip, trusted)
	}
	if !client.IsValid() {
		return ""
	}
	return client.String()
}

func xffEntries(r *http.Request) []string {
	var out []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		for part := range strings.SplitSeq(h, ",") {
			if p := strings.TrimSpace(part); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func isTrusted(ip netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// parseIP accepts "ip", "ip:port" and "[ipv6]:port", and unmaps IPv4-mapped
// IPv6 addresses.
func parseIP(s string) netip.Addr {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Addr{}
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		return ip.Unmap().WithZone("")
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		if ip, err := netip.ParseAddr(host); err == nil {
			return ip.Unmap().WithZone("")
		}
	}
	return netip.Addr{}
}
