// Starts step processes from a small helper process instead of from the runner itself. Forking
// a Node.js process of ~100 MB costs milliseconds of CPU per step and blocks the runner's event
// loop until the child has exec'ed (libuv waits for it); forking a perl process of a few MB costs a
// fraction of that, in another process. perl-base is Essential on Debian and Ubuntu, so the helper
// is there wherever bubblewrap is; without perl the runner spawns steps itself.
//
// The helper forks each step (a new session and process group) and reports its pid and, once it
// has reaped it, its wait status. Output reaches the runner through FIFOs the child creates (and
// removes once past its gate): the step writes to real pipes (/dev/stdout works, unlike with a
// socket) and nothing sits between the step and the runner.

import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { LaunchedProcess, Launcher, LaunchSpec, LaunchStartError } from "./process.js";

/**
 * The helper. Requests on stdin: "<length>\n" then fields joined by NUL, the first two a kind and
 * an id. "x": cwd, argc, argv…, env… (start a command). "s": pgid, signal number (signal a group,
 * inside a lane whose pids the runner cannot see). "k": kill every other process of the lane and
 * clear what a step may leave in it (lanes.ts). "S" dir, "m" source target, "u" target: mount a
 * shared tmpfs at dir, bind source at target, detach target (the runner's own helper, as root).
 * "c" dir: strip a directory of its extended attributes, make it root's and 0755 (a workspace to
 * keep for another job).
 * Lines on stdout: "p <id> <pid>" forked; "r <id> <pid>" its FIFOs wait in the FIFO dir;
 * "f <id> <what> <errno>" it could not become the command; "x <id> <wait status>" it ended;
 * "d <id> <errno>" a request of another kind is done (0: it worked).
 * The child holds its FIFOs open read-write until the runner has opened its ends (so no output
 * is lost and no end is seen early), waits for "go" on the gate FIFO (its group is recorded by
 * then), and gives up after a minute without one (the runner died). Options before the FIFO dir
 * (the last argument): uid=, gid= (children become this user before their command: the helper of
 * a lane runs as root with only the capabilities to do so and to kill); lane=1 (a step's group is
 * killed as soon as its leader is reaped); mount=, umount2=, llistxattr=, lremovexattr= (the
 * system call numbers of this machine).
 */
const FORKSERVER_PL = String.raw`
use strict; use warnings; use POSIX (); use Fcntl;
my $dir = pop @ARGV;
my %o = map { split /=/, $_, 2 } @ARGV;
$SIG{PIPE} = 'IGNORE';
# A child that ends between the reaping and the select must wake the select: a self-pipe.
pipe(my $cr, my $cw) or die "pipe: $!";
for ($cr, $cw) { fcntl($_, F_SETFL, fcntl($_, F_GETFL, 0) | O_NONBLOCK); }
$SIG{CHLD} = sub { syswrite $cw, 'c'; };
my (%ids, $in);
$in = '';
sub reap {
  while ((my $p = waitpid(-1, POSIX::WNOHANG())) > 0) {
    my $id = delete $ids{$p};
    next unless defined $id;
    # In a lane the rest of the step's group goes with its leader, here (the runner cannot).
    kill 'KILL', -$p if $o{lane};
    syswrite STDOUT, "x $id $?\n";
  }
}
sub done { syswrite STDOUT, "d $_[0] " . ($_[1] ? $! + 0 : 0) . "\n"; }
sub become {
  $) = "$o{gid} $o{gid}";
  POSIX::setgid($o{gid}) or return 0;
  POSIX::setuid($o{uid}) or return 0;
  return $< == $o{uid} && $> == $o{uid};
}
# Empties a dir without crossing into another file system: the job's workspace is mounted under
# /tmp when the work root is there.
sub wipe {
  my ($d, $dev) = @_;
  my @st = lstat $d or return;
  $dev //= $st[0];
  return if $st[0] != $dev;
  opendir(my $h, $d) or return;
  for my $e (readdir $h) {
    next if $e eq '.' or $e eq '..';
    my $p = "$d/$e";
    my @s = lstat $p or next;
    next if $s[0] != $dev;
    if (-d _) { chmod 0700, $p; wipe($p, $dev); rmdir $p; } else { unlink $p; }
  }
  closedir $h;
}
# A job's emptied workspace, kept for a later job (lanes.ts): nothing of the step's stays on it,
# no extended attribute (a default ACL, a user.* note), no owner, no mode. Not through a link.
sub scrub {
  my ($d) = @_;
  my @st = lstat $d or return 0;
  return 0 unless -d _;
  my $names = "\0" x 65536;
  my $n = syscall($o{llistxattr}, $d, $names, 65536);
  return 0 if $n < 0;
  for my $name (split /\0/, substr($names, 0, $n)) {
    next if $name eq '';
    my $copy = "$name";
    return 0 if syscall($o{lremovexattr}, $d, $copy) != 0;
  }
  return chown(0, 0, $d) && chmod(0755, $d) ? 1 : 0;
}
# Every other process of the lane goes (but its init, pid 1), then what they may leave for the
# next job: files in /tmp, /dev/shm and /dev/mqueue, System V IPC objects.
sub clear_lane {
  my ($id) = @_;
  kill 'KILL', -1;
  my $left = 0;
  for (my $i = 0; $i < 3000; $i++) {
    reap();
    $left = 0;
    opendir(my $p, '/proc') or last;
    for my $e (readdir $p) {
      next unless $e =~ /^\d+$/ and $e != 1 and $e != $$;
      open(my $s, '<', "/proc/$e/stat") or next;
      my $st = <$s>; close $s;
      next unless defined $st and $st =~ /\) (\S)/;
      $left++ unless $1 eq 'Z' or $1 eq 'X';
    }
    closedir $p;
    last unless $left;
    select(undef, undef, undef, 0.001);
  }
  # The rest as the lane's user (its files, its IPC objects), without a fork: the effective ids
  # only, and back (the saved uid stays root, so the capabilities come back with it).
  $) = "$o{gid} $o{gid}";
  $> = $o{uid};
  my $ok = $> == $o{uid};
  if ($ok) {
    wipe($_) for ('/tmp', '/dev/shm', '/dev/mqueue');
    for my $kind ('shm', 'msg', 'sem') {
      open(my $h, '<', "/proc/sysvipc/$kind") or next;
      <$h>;
      while (my $l = <$h>) {
        my @f = split ' ', $l;
        if ($kind eq 'shm') { shmctl($f[1], 0, 0) } elsif ($kind eq 'msg') { msgctl($f[1], 0, 0) } else { semctl($f[1], 0, 0, 0) }
      }
      close $h;
    }
  }
  $> = 0;
  $) = "0 0";
  # A process that outlived three seconds of SIGKILL (stuck in the kernel) may still act: the
  # lane is not cleared, and is not used again.
  $ok &&= $> == 0 && !$left;
  syswrite STDOUT, "d $id " . ($ok ? 0 : 1) . "\n";
  # A helper that could not become root again cannot start steps as their user: it ends.
  exit 1 if $> != 0;
}
for (;;) {
  reap();
  my $rin = ''; vec($rin, 0, 1) = 1; vec($rin, fileno($cr), 1) = 1;
  next if select(my $rout = $rin, undef, undef, undef) <= 0;
  1 while sysread($cr, my $junk, 512);
  next unless vec($rout, 0, 1);
  my $r = sysread(STDIN, $in, 65536, length $in);
  exit 0 unless $r;
  while ($in =~ /\A(\d+)\n/ and length($in) >= length($1) + 1 + $1) {
    my $len = $1;
    my $rec = substr($in, length($len) + 1, $len);
    substr($in, 0, length($len) + 1 + $len) = '';
    my ($kind, $id, @a) = split /\0/, $rec, -1;
    if ($kind eq 's') { done($id, !kill(-$a[1], $a[0])); next; }
    if ($kind eq 'k') { clear_lane($id); next; }
    # (syscall wants strings it may write to: copies, not constants.)
    my ($none, $x, $y) = ('none', $a[0] // '', $a[1] // '');
    if ($kind eq 'S') {
      my ($fs, $data) = ('tmpfs', 'mode=0700');
      done($id, syscall($o{mount}, $none, $x, $fs, 0, $data) != 0 || syscall($o{mount}, $none, $x, 0, 1 << 20, 0) != 0);
      next;
    }
    if ($kind eq 'm') { done($id, syscall($o{mount}, $x, $y, $none, 4096, 0) != 0); next; }
    if ($kind eq 'u') { done($id, syscall($o{umount2}, $x, 2) != 0); next; }
    if ($kind eq 'c') { done($id, !scrub($x)); next; }
    my $pid = fork();
    if (!defined $pid) { syswrite STDOUT, "f $id fork " . ($! + 0) . "\n"; syswrite STDOUT, "x $id 32512\n"; }
    elsif ($pid == 0) { child($id, @a); }
    else { $ids{$pid} = $id; syswrite STDOUT, "p $id $pid\n"; }
  }
}
sub child {
  my ($id, $cwd, $argc, @rest) = @_;
  my @argv = splice(@rest, 0, $argc);
  open(my $ev, '>&', \*STDOUT) or POSIX::_exit(127);
  my $fail = sub { syswrite $ev, "f $id $_[0] " . ($! + 0) . "\n"; POSIX::_exit(127); };
  $SIG{CHLD} = 'DEFAULT';
  POSIX::setsid();
  my $base = "$dir/$id";
  my @fd;
  for my $n ('o', 'e', 'g') {
    POSIX::mkfifo("$base.$n", 0600) or $fail->('mkfifo');
    # A sandbox's user may reopen its output (echo > /dev/stdout); the dir keeps others out.
    chmod(0622, "$base.$n") if $n ne 'g';
    my $fd = POSIX::open("$base.$n", POSIX::O_RDWR());
    defined $fd or $fail->('open');
    push @fd, $fd;
  }
  syswrite $ev, "r $id $$\n";
  $SIG{ALRM} = sub { POSIX::_exit(125); };
  alarm 60;
  my ($go, $b) = ('', '');
  while ($go !~ /\n/) { my $n = POSIX::read($fd[2], $b, 16); POSIX::_exit(125) unless $n; $go .= $b; }
  alarm 0;
  unlink("$base.o", "$base.e", "$base.g");
  POSIX::_exit(125) unless $go eq "go\n";
  open(STDIN, '<', '/dev/null') or $fail->('stdin');
  POSIX::dup2($fd[0], 1); POSIX::dup2($fd[1], 2);
  POSIX::close($_) for @fd;
  $fail->('setuid') if defined $o{uid} and not become();
  chdir($cwd) or $fail->('chdir');
  %ENV = ();
  for (@rest) { my ($k, $v) = split /=/, $_, 2; $ENV{$k} = $v; }
  $SIG{PIPE} = 'DEFAULT'; $SIG{ALRM} = 'DEFAULT';
  { no warnings 'exec'; exec { $argv[0] } @argv; }
  $fail->('exec');
}
`;

/** A started step as the runner sees it until its "x" line. */
interface Launch {
  readonly spec: LaunchSpec;
  pid: number;
  failure?: string;
  resolve?: ((result: LaunchedProcess | { error: LaunchStartError }) => void) | undefined;
  exit?: ((code: number | null, signal: NodeJS.Signals | null, error?: LaunchStartError) => void) | undefined;
  ended?: { code: number | null; signal: NodeJS.Signals | null; error?: LaunchStartError };
}

export interface Forkserver extends Launcher {
  /**
   * Ends the helper (the runner is stopping, its jobs ended or stopped); a step still running is
   * killed then. A runner killed with -9 runs none of this: its steps go on until the next runner
   * reaps their groups.
   */
  close(): void;
  /**
   * A request other than a start (see FORKSERVER_PL): answers its errno, 0 when it worked, -1
   * when the helper is gone.
   */
  request(kind: "s" | "k" | "S" | "m" | "u" | "c", ...fields: string[]): Promise<number>;
  /** The helper's pid (the runner's view), while it runs. */
  readonly pid: number | undefined;
}

export interface ForkserverOptions {
  /** A directory of the runner's own (mode 0700) for the FIFOs, which live for microseconds. */
  readonly dir: string;
  readonly path: string | undefined;
  readonly log: (msg: string) => void;
  /** The FIFO dir as the helper sees it (in a lane's sandbox); `dir` by default. */
  readonly helperDir?: string | undefined;
  /** Options of the helper (uid=, gid=, mount=, umount2=). */
  readonly options?: readonly string[] | undefined;
  /** Runs the helper inside this command line (a mount namespace of its own, a lane's sandbox). */
  readonly around?: ((perl: readonly string[]) => { command: string; args: string[] }) | undefined;
  /**
   * The helper is a lane's (lanes.ts): its pids are the lane's, not ours, so groups are signalled
   * through it, never recorded, and a helper that ends is not started again (the lane is gone).
   */
  readonly lane?: boolean | undefined;
  /** Told once when the helper ends, unless close() ended it. */
  readonly onEnd?: (() => void) | undefined;
}

/**
 * Starts the helper. Answers undefined when perl is not there (the runner then spawns steps
 * itself); `log` hears why.
 */
export async function startForkserver(opts: ForkserverOptions): Promise<Forkserver | undefined> {
  const dir = opts.dir;
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const launches = new Map<number, Launch>();
  const requests = new Map<number, (errno: number) => void>();
  let nextId = 1;
  let helper: ChildProcess | undefined;
  let closed = false;
  let ended = false;
  const inside = opts.lane === true;

  const send = (fields: readonly string[]): void => {
    const record = Buffer.from(fields.join("\0"));
    helper!.stdin!.write(Buffer.concat([Buffer.from(`${record.length}\n`), record]));
  };

  const startHelper = async (): Promise<boolean> => {
    // FIFOs a killed helper's children left.
    for (const name of fs.readdirSync(dir)) fs.rmSync(path.join(dir, name), { force: true });
    const perl = ["perl", "-e", FORKSERVER_PL, ...(opts.options ?? []), opts.helperDir ?? dir];
    const cmd = opts.around ? opts.around(perl) : { command: perl[0]!, args: perl.slice(1) };
    const child = spawn(cmd.command, cmd.args, {
      env: { PATH: opts.path ?? "/usr/bin:/bin" },
      stdio: ["pipe", "pipe", "inherit"],
      // A lane's sandbox leads a group of its own: the runner records it like a step's.
      detached: inside,
    });
    const up = await new Promise<boolean>((resolve) => {
      child.once("spawn", () => resolve(true));
      child.once("error", () => resolve(false));
    });
    if (!up) return false;
    child.stdin!.on("error", () => {});
    let lines = "";
    child.stdout!.setEncoding("latin1");
    child.stdout!.on("data", (text: string) => {
      lines += text;
      let at = 0;
      for (let nl = lines.indexOf("\n"); nl >= 0; nl = lines.indexOf("\n", at)) {
        line(lines.slice(at, nl));
        at = nl + 1;
      }
      lines = lines.slice(at);
    });
    child.once("exit", (code, signal) => {
      if (helper === child) helper = undefined;
      if (inside) ended = true;
      if (!closed) {
        opts.log(
          inside
            ? `a sandbox lane ended (${signal ?? `exit code ${code}`})`
            : `the forkserver ended (${signal ?? `exit code ${code}`}); the next step starts another`,
        );
        opts.onEnd?.();
      }
      for (const [id, answer] of requests) {
        requests.delete(id);
        answer(-1);
      }
      // Its children are nobody's now: their groups go, and so do their results. (In a lane
      // they went with its pid namespace.)
      for (const [id, l] of launches) {
        launches.delete(id);
        if (l.pid > 1 && !inside) {
          try {
            process.kill(-l.pid, "SIGKILL");
          } catch {
            // gone
          }
        }
        settle(l, { kind: "other", message: "the runner's forkserver ended while the step ran" });
      }
    });
    helper = child;
    return true;
  };

  function line(text: string): void {
    const [kind, idText, a, b] = text.split(" ");
    const id = Number(idText);
    if (kind === "d") {
      const answer = requests.get(id);
      requests.delete(id);
      answer?.(Number(a));
      return;
    }
    const l = launches.get(id);
    if (!l) return;
    switch (kind) {
      case "p":
        l.pid = Number(a);
        return;
      case "r":
        // The child says so itself: its line can come before the helper's "p".
        l.pid = Number(a);
        ready(id, l);
        return;
      case "f":
        l.failure = `${a} ${b}`;
        return;
      case "x": {
        launches.delete(id);
        const status = Number(a);
        if (l.failure !== undefined) settle(l, startError(l.spec, l.failure));
        else if ((status & 0x7f) === 0) settle(l, undefined, (status >> 8) & 0xff, null);
        else settle(l, undefined, null, signalName(status & 0x7f));
        return;
      }
    }
  }

  /** How a launch ended: before it became a process of its own (resolve), or after (exit). */
  function settle(
    l: Launch,
    error: LaunchStartError | undefined,
    code: number | null = null,
    signal: NodeJS.Signals | null = null,
  ): void {
    if (l.resolve) {
      const resolve = l.resolve;
      l.resolve = undefined;
      resolve({
        error: error ?? {
          kind: "other",
          message: `the step ended before it started (${signal ?? `exit code ${code}`})`,
        },
      });
      return;
    }
    l.ended = error ? { code: null, signal: null, error } : { code, signal };
    const exit = l.exit;
    l.exit = undefined;
    exit?.(l.ended.code, l.ended.signal, l.ended.error);
  }

  /** The child's FIFOs are there: open our ends, then hand the process to runProcess. */
  function ready(id: number, l: Launch): void {
    const base = path.join(dir, String(id));
    let out: number | undefined;
    let err: number | undefined;
    let gate: number | undefined;
    try {
      out = fs.openSync(`${base}.o`, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      err = fs.openSync(`${base}.e`, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      gate = fs.openSync(`${base}.g`, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    } catch (e) {
      for (const fd of [out, err, gate]) if (fd !== undefined) fs.closeSync(fd);
      try {
        if (l.pid > 1) process.kill(-l.pid, "SIGKILL");
      } catch {
        // gone
      }
      l.failure = `open ${-((e as NodeJS.ErrnoException).errno ?? 0)}`;
      for (const n of ["o", "e", "g"]) fs.rmSync(`${base}.${n}`, { force: true });
      return;
    }
    const gateFd = gate;
    const pid = l.pid;
    const proc: LaunchedProcess = {
      pid,
      ...(inside
        ? {
            // Once the leader is reaped the helper has killed its group: nothing to send then.
            signalGroup: (sig: NodeJS.Signals) => {
              if (pid > 1 && helper && !l.ended)
                void request("s", String(pid), String(os.constants.signals[sig]));
            },
          }
        : {}),
      stdout: new net.Socket({ fd: out, readable: true, writable: false }),
      stderr: new net.Socket({ fd: err, readable: true, writable: false }),
      onExit(listener) {
        if (l.ended) listener(l.ended.code, l.ended.signal, l.ended.error);
        else l.exit = listener;
      },
      openGate() {
        try {
          fs.writeSync(gateFd, "go\n");
        } catch {
          // The child is gone already: its "x" line tells the rest.
        }
        fs.closeSync(gateFd);
      },
    };
    const resolve = l.resolve;
    l.resolve = undefined;
    resolve?.(proc);
  }

  function request(kind: "s" | "k" | "S" | "m" | "u" | "c", ...fields: string[]): Promise<number> {
    if (!helper || fields.some((f) => f.includes("\0"))) return Promise.resolve(-1);
    const id = nextId++;
    return new Promise((resolve) => {
      requests.set(id, resolve);
      send([kind, String(id), ...fields]);
    });
  }

  if (!(await startHelper())) {
    opts.log(
      inside
        ? "a sandbox lane could not be started"
        : "perl is not available here: steps are spawned by the runner itself (a few ms of CPU each)",
    );
    return undefined;
  }

  return {
    name: "forkserver",
    gatesItself: true,
    get pid() {
      return helper?.pid;
    },
    request,
    async launch(spec: LaunchSpec) {
      if (closed) return { error: { kind: "other", message: "the runner is stopping" } };
      if (ended) return { error: { kind: "other", message: "the step's sandbox lane ended" } };
      if (!helper && !(await startHelper())) {
        return { error: { kind: "other", message: "the runner's forkserver cannot be started" } };
      }
      for (const s of [spec.command, ...spec.args, spec.cwd, ...Object.entries(spec.env).flat()]) {
        if (s.includes("\0"))
          return {
            error: {
              kind: "other",
              message: `cannot start ${spec.displayName}: an argument holds a NUL byte`,
            },
          };
      }
      const id = nextId++;
      const env = Object.entries(spec.env).map(([k, v]) => `${k}=${v}`);
      return new Promise((resolve) => {
        launches.set(id, { spec, pid: 0, resolve });
        send(["x", String(id), spec.cwd, String(1 + spec.args.length), spec.command, ...spec.args, ...env]);
      });
    },
    close() {
      closed = true;
      helper?.stdin?.end();
    },
  };
}

function startError(spec: LaunchSpec, failure: string): LaunchStartError {
  const [what, errno] = failure.split(" ");
  const name = errnoName(Number(errno));
  if (what === "chdir" && name === "ENOENT") {
    return { kind: "cwd", message: `working directory does not exist: ${spec.cwd}` };
  }
  if (what === "exec" && name === "ENOENT")
    return { kind: "command", message: `command not found: ${spec.displayName}` };
  return { kind: "other", message: `cannot start ${spec.displayName}: ${what} failed (${name})` };
}

function errnoName(errno: number): string {
  for (const [name, value] of Object.entries(os.constants.errno)) if (value === errno) return name;
  return `errno ${errno}`;
}

function signalName(signo: number): NodeJS.Signals {
  for (const [name, value] of Object.entries(os.constants.signals)) {
    if (value === signo) return name as NodeJS.Signals;
  }
  return "SIGKILL";
}
