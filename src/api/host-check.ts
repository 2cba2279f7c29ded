// Which Host values the server answers to. A page of an attacker's domain whose DNS name is made
// to point at this server (DNS rebinding) sends its own name as Host: refusing names that are not
// ours keeps such a page from reading even the routes that need no credentials.

/** Listen addresses that mean "every interface": they name no host. */
const WILDCARD_ADDRESSES = new Set(["", "0.0.0.0", "::", "[::]"]);

/**
 * The host part of a Host header (or of a configured name), lower-cased, without port, brackets
 * or a trailing dot; undefined when it is not a host at all (an IPv6 address without brackets,
 * an empty name, characters no host name has).
 */
export function hostName(value: string): string | undefined {
  let v = value.trim().toLowerCase();
  if (v.startsWith("[")) {
    const end = v.indexOf("]");
    if (end < 0) return undefined;
    const rest = v.slice(end + 1);
    if (rest !== "" && !/^:\d{1,5}$/.test(rest)) return undefined;
    v = v.slice(1, end);
    return /^[0-9a-f:.]+$/.test(v) && v.includes(":") ? v : undefined;
  }
  const colon = v.indexOf(":");
  if (colon >= 0) {
    if (!/^\d{1,5}$/.test(v.slice(colon + 1))) return undefined;
    v = v.slice(0, colon);
  }
  if (v.endsWith(".")) v = v.slice(0, -1);
  return /^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?$/.test(v) && !v.includes("..") ? v : undefined;
}

/** Names that reach this machine only: a rebinding page can never have them as its own. */
export function isLoopback(host: string): boolean {
  return (
    host === "localhost" ||
    host.endsWith(".localhost") ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) ||
    host === "::1" ||
    host === "0:0:0:0:0:0:0:1" ||
    /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
  );
}

export interface HostCheck {
  /** Whether a request with this Host header is answered. */
  allows(hostHeader: string | undefined): boolean;
}

/**
 * `allowed`: the configured names; `*` allows any Host (the check is off), `*.example.com` any
 * name below example.com. Loopback names are always allowed (the runner agents, the CLI and
 * the SDKs on the server's machine use them), and so is the address the server listens on when
 * it is one address rather than all of them.
 */
export function createHostCheck(allowed: readonly string[], listenHost: string): HostCheck {
  if (allowed.includes("*")) return { allows: () => true };
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const entry of allowed) {
    if (entry.startsWith("*.")) {
      const name = hostName(entry.slice(2));
      if (name) suffixes.push(`.${name}`);
    } else {
      const name = hostName(entry);
      if (name) exact.add(name);
    }
  }
  if (!WILDCARD_ADDRESSES.has(listenHost)) {
    const name = hostName(
      listenHost.includes(":") && !listenHost.startsWith("[") ? `[${listenHost}]` : listenHost,
    );
    if (name) exact.add(name);
  }
  return {
    allows(hostHeader) {
      if (hostHeader === undefined) return false;
      const host = hostName(hostHeader);
      if (host === undefined) return false;
      return isLoopback(host) || exact.has(host) || suffixes.some((s) => host.endsWith(s));
    },
  };
}
