//! Helpers for the integration tests: real BGP daemons on loopback, and the
//! `cue-bgp` binary as a child process.
//!
//! A test that needs a daemon that is not installed is skipped with a
//! message, unless `CUE_REQUIRE_DAEMONS=1` (set by the README's test
//! command), which makes it fail instead.

#![allow(dead_code)]

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Whether a missing daemon is a failure rather than a skip.
pub fn daemons_required() -> bool {
    std::env::var("CUE_REQUIRE_DAEMONS").is_ok_and(|v| v == "1")
}

fn on_path(program: &str) -> bool {
    if program.starts_with('/') {
        return Path::new(program).is_file();
    }
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|p| p.join(program).is_file())
            || ["/usr/sbin", "/sbin"]
                .iter()
                .any(|d| Path::new(d).join(program).is_file())
    })
}

/// Returns true when `program` can be run; otherwise skips (prints why) or,
/// with CUE_REQUIRE_DAEMONS=1, panics.
pub fn have(program: &str) -> bool {
    if on_path(program) {
        return true;
    }
    if daemons_required() {
        panic!("{program} is not installed and CUE_REQUIRE_DAEMONS=1");
    }
    // Straight to stderr, past the test harness's capture, so that a plain
    // `cargo test` shows what it skipped.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "skipped: {program} is not installed (the README's test command installs it)"
    );
    false
}

/// Skips a test for want of something that is not a daemon (root,
/// network namespaces, a tool): says so on standard error, or with
/// CUE_REQUIRE_DAEMONS=1 (the README's test command) fails, so that CI
/// never passes a test it did not run.
pub fn skip(why: &str) {
    if daemons_required() {
        panic!("cannot run: {why} (CUE_REQUIRE_DAEMONS=1)");
    }
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipped: {why}");
}

/// Whether the tests run as root.
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs `ip ARGS` quietly; whether it succeeded.
pub fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The decoding context of a session with 4-octet AS numbers.
pub fn ctx() -> cue::bgp::wire::DecodeContext {
    cue::bgp::wire::DecodeContext::with_four_octet_as(true)
}

/// An OPEN offering IPv4 and IPv6 unicast, encoded.
pub fn open_message(asn: u32, hold: u16, id: [u8; 4]) -> Vec<u8> {
    use cue::bgp::wire::{Family, Message, Open};
    Message::Open(Open::new(
        asn,
        hold,
        std::net::Ipv4Addr::from(id),
        &[Family::Ipv4Unicast, Family::Ipv6Unicast],
    ))
    .to_bytes(ctx())
}

fn program_path(program: &str) -> PathBuf {
    for d in ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
        let p = Path::new(d).join(program);
        if p.is_file() {
            return p;
        }
    }
    PathBuf::from(program)
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A fresh scratch directory, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "cue-test-{}-{}-{}",
            std::process::id(),
            tag,
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Polls `f` every 50 ms until it returns Some, or panics after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn kill(child: &mut Child, signal: &str) {
    let _ = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status();
}

/// A running BIRD 2 with its own config, control socket and log.
pub struct Bird {
    child: Child,
    pub dir: Scratch,
    config: String,
    netns: Option<String>,
    /// Extra command line arguments (`-R`: graceful restart recovery).
    args: Vec<String>,
}

impl Bird {
    /// Starts BIRD with `config` (a full configuration); waits until its
    /// control socket answers.
    pub fn start(config: &str) -> Bird {
        Bird::start_in(config, None)
    }

    /// Starts BIRD inside a network namespace (`ip netns exec`).
    pub fn start_in(config: &str, netns: Option<&str>) -> Bird {
        let dir = Scratch::new("bird");
        let mut bird = Bird {
            child: Command::new("true").spawn().expect("spawn"),
            dir,
            config: config.to_string(),
            netns: netns.map(str::to_string),
            args: Vec::new(),
        };
        bird.spawn();
        bird
    }

    fn spawn(&mut self) {
        let conf = self.dir.path("bird.conf");
        std::fs::write(&conf, &self.config).expect("write bird.conf");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path("bird.log"))
            .expect("bird.log");
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(program_path("bird"));
                c
            }
            None => Command::new(program_path("bird")),
        };
        self.child = cmd
            .arg("-f")
            .arg("-c")
            .arg(&conf)
            .arg("-s")
            .arg(self.dir.path("bird.ctl"))
            .arg("-P")
            .arg(self.dir.path("bird.pid"))
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start bird");
        wait_for("BIRD's control socket", Duration::from_secs(10), || {
            self.birdc(&["show", "status"])
                .contains("Daemon is up")
                .then_some(())
        });
    }

    /// Kills BIRD (SIGKILL: no NOTIFICATION) and starts it again with the
    /// same configuration.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(self.dir.path("bird.ctl"));
        self.spawn();
    }

    /// Kills BIRD (SIGKILL) and starts it again as after a crash, with
    /// graceful restart recovery (`bird -R`): its OPEN says it restarted
    /// and kept forwarding, and it sends End-of-RIB when it is done.
    pub fn restart_gracefully(&mut self) {
        self.args = vec!["-R".into()];
        self.restart();
    }

    /// Sends a signal (`-STOP`, `-CONT`, ...) to BIRD.
    pub fn signal(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status();
    }

    /// Runs birdc against this BIRD and returns its output.
    pub fn birdc(&self, args: &[&str]) -> String {
        let out = Command::new(program_path("birdc"))
            .arg("-s")
            .arg(self.dir.path("bird.ctl"))
            .args(args)
            .output();
        match out {
            Ok(o) => String::from_utf8_lossy(&o.stdout).into_owned(),
            Err(_) => String::new(),
        }
    }

    /// `show route all`, split into one block per route: (prefix, block).
    pub fn routes(&self) -> Vec<(String, String)> {
        parse_bird_routes(&self.birdc(&["show", "route", "all"]))
    }

    /// The block of `prefix`, if BIRD has it.
    pub fn route(&self, prefix: &str) -> Option<String> {
        self.routes()
            .into_iter()
            .find(|(p, _)| p == prefix)
            .map(|(_, b)| b)
    }

    /// BIRD's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path("bird.log")).unwrap_or_default()
    }
}

impl Drop for Bird {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Splits `birdc show route all` output into per-route blocks.
pub fn parse_bird_routes(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.starts_with("BIRD ") || line.starts_with("Table ") || line.trim().is_empty() {
            continue;
        }
        let first = line.split_whitespace().next().unwrap_or("");
        if !line.starts_with(char::is_whitespace) && first.contains('/') {
            out.push((first.to_string(), line.to_string()));
        } else if let Some(last) = out.last_mut() {
            last.1.push('\n');
            last.1.push_str(line);
        }
    }
    out
}

/// The user ExaBGP is to run as: ours.
pub fn current_user() -> String {
    Command::new("id")
        .arg("-un")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|_| "root".into())
}

/// A gobgpd configuration: AS `asn` listening on `address` port `port`
/// for a passive session with `neighbor` (AS `peer_as`), IPv4 and IPv6
/// unicast, with `extra` (more TOML) after the global section.
pub fn passive_gobgp_config(
    asn: u32,
    address: &str,
    port: u16,
    neighbor: &str,
    peer_as: u32,
    extra: &str,
) -> String {
    format!(
        r#"
[global.config]
  as = {asn}
  router-id = "127.0.0.3"
  port = {port}
  local-address-list = ["{address}"]
{extra}
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{neighbor}"
    peer-as = {peer_as}
  [neighbors.transport.config]
    passive-mode = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
"#
    )
}

/// A running gobgpd with its own config and API port.
pub struct Gobgp {
    child: Child,
    pub dir: Scratch,
    pub api_port: u16,
}

impl Gobgp {
    /// Starts gobgpd with a TOML `config`; waits until its API answers.
    pub fn start(config: &str) -> Gobgp {
        let dir = Scratch::new("gobgp");
        let conf = dir.path("gobgpd.toml");
        std::fs::write(&conf, config).expect("write gobgpd.toml");
        let api_port = free_port();
        let log = std::fs::File::create(dir.path("gobgpd.log")).expect("gobgpd.log");
        let child = Command::new(program_path("gobgpd"))
            .arg("-f")
            .arg(&conf)
            .arg("--api-hosts")
            .arg(format!("127.0.0.1:{api_port}"))
            .arg("--log-level")
            .arg("debug")
            .arg("--log-plain")
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start gobgpd");
        let g = Gobgp {
            child,
            dir,
            api_port,
        };
        wait_for("gobgpd's API", Duration::from_secs(10), || {
            g.gobgp_ok(&["global"]).then_some(())
        });
        g
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(program_path("gobgp"));
        c.args(["-u", "127.0.0.1", "-p", &self.api_port.to_string()])
            .args(args);
        c
    }

    fn gobgp_ok(&self, args: &[&str]) -> bool {
        self.command(args)
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// Runs the gobgp client and returns its standard output.
    pub fn gobgp(&self, args: &[&str]) -> String {
        let o = self.command(args).output().expect("run gobgp");
        assert!(
            o.status.success(),
            "gobgp {args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// The global RIB of a family ("ipv4" or "ipv6") as JSON.
    pub fn rib(&self, family: &str) -> serde_json::Value {
        let text = self.gobgp(&["global", "rib", "-a", family, "-j"]);
        serde_json::from_str(text.trim()).unwrap_or(serde_json::Value::Null)
    }

    /// gobgpd's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path("gobgpd.log")).unwrap_or_default()
    }
}

impl Drop for Gobgp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The attributes of `prefix` in a `gobgp global rib -j` answer.
pub fn gobgp_attrs(rib: &serde_json::Value, prefix: &str) -> Option<Vec<serde_json::Value>> {
    rib.get(prefix)?.get(0)?.get("attrs")?.as_array().cloned()
}

/// The attribute of `type_code` in a GoBGP attribute list.
pub fn gobgp_attr(attrs: &[serde_json::Value], type_code: u64) -> Option<serde_json::Value> {
    attrs
        .iter()
        .find(|a| a.get("type").and_then(|t| t.as_u64()) == Some(type_code))
        .cloned()
}

/// `cue-bgp` running as a child process, its output captured.
pub struct Cue {
    child: Option<Child>,
    stdout: PathBuf,
    stderr: PathBuf,
    _dir: Scratch,
}

/// What a finished `cue-bgp` left behind.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Checks one `--json` line against `schema/events.schema.json`, the
/// documented promise; panics with what does not match.
pub fn check_schema(v: &serde_json::Value) {
    static VALIDATOR: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    let validator = VALIDATOR.get_or_init(|| {
        let text = include_str!("../../schema/events.schema.json");
        let schema: serde_json::Value = serde_json::from_str(text).expect("the schema is JSON");
        jsonschema::validator_for(&schema).expect("the schema is a JSON Schema")
    });
    let errors: Vec<String> = validator
        .iter_errors(v)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "output does not match schema/events.schema.json:\n{v}\n{}",
        errors.join("\n")
    );
}

impl Finished {
    /// The JSON lines of standard output, each checked against the schema.
    pub fn json(&self) -> Vec<serde_json::Value> {
        let lines: Vec<serde_json::Value> = self
            .stdout
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        lines
            .iter()
            .filter(|v| v.get("event").is_some())
            .for_each(check_schema);
        lines
    }
}

/// Runs `cue-bgp ARGS` to its end, which must be a refusal (status 2, as
/// for bad arguments and files), and returns its standard error.
pub fn refused(args: &[&str]) -> String {
    let done = Cue::start(args).wait(Duration::from_secs(15));
    assert_eq!(done.status.code(), Some(2), "not refused: {}", done.stderr);
    done.stderr
}

pub fn cue_bin() -> &'static str {
    env!("CARGO_BIN_EXE_cue-bgp")
}

impl Cue {
    /// Starts `cue-bgp` with `args`.
    pub fn start(args: &[&str]) -> Cue {
        Cue::start_with_env(args, &[])
    }

    /// Starts `cue-bgp` with `args` and these variables in its environment.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Cue {
        let mut cmd = Command::new(cue_bin());
        cmd.args(args).envs(env.iter().copied());
        Cue::spawn(cmd)
    }

    /// Starts `cue-bgp` with `args` inside a network namespace (`ip netns
    /// exec`, which becomes `cue-bgp`: the same process ID).
    pub fn start_in(netns: &str, args: &[&str]) -> Cue {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", netns, cue_bin()]).args(args);
        Cue::spawn(cmd)
    }

    fn spawn(mut cmd: Command) -> Cue {
        let dir = Scratch::new("cue");
        let stdout = dir.path("stdout");
        let stderr = dir.path("stderr");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("stdout"))
            .stderr(std::fs::File::create(&stderr).expect("stderr"))
            .spawn()
            .expect("start cue-bgp");
        Cue {
            child: Some(child),
            stdout,
            stderr,
            _dir: dir,
        }
    }

    /// `cue-bgp listen --bind 127.0.0.1 --port PORT --json ARGS...` (ARGS end
    /// with the AS and router ID), given a moment to bind.
    pub fn listen(port: &str, args: &[&str]) -> Cue {
        let mut all = vec!["listen", "--bind", "127.0.0.1", "--port", port, "--json"];
        all.extend_from_slice(args);
        let cue = Cue::start(&all);
        std::thread::sleep(Duration::from_millis(200));
        cue
    }

    /// The process ID.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Standard output so far.
    pub fn stdout(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.stdout) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(mut self) -> Finished {
        if let Some(c) = self.child.as_mut() {
            kill(c, "-TERM");
        }
        self.wait(Duration::from_secs(15))
    }

    /// Waits for the exit (kills after `timeout`).
    pub fn wait(mut self, timeout: Duration) -> Finished {
        let mut child = self.child.take().expect("child");
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break s;
            }
            if start.elapsed() > timeout {
                let _ = child.kill();
                panic!(
                    "cue-bgp did not exit within {timeout:?}; output:\n{}",
                    self.stdout()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Finished {
            status,
            stdout: self.stdout(),
            stderr: std::fs::read_to_string(&self.stderr).unwrap_or_default(),
        }
    }
}

impl Drop for Cue {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The routes announced to a `cue-bgp listen --json`, from its output: one
/// JSON object per route (prefix, next hop, attributes), in arrival order.
pub fn received_routes(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .inspect(|e| {
            if e.get("event").is_some() {
                check_schema(e)
            }
        })
        .filter(|e| e["event"] == "update" && e["direction"] == "received")
        .flat_map(|e| e["announce"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// `cue-bgp` with its standard input writable and its standard output read
/// line by line as it comes.
pub struct Interactive {
    pub child: Child,
    pub stdin: std::process::ChildStdin,
    pub lines: std::sync::mpsc::Receiver<String>,
}

impl Interactive {
    pub fn start(args: &[&str]) -> Interactive {
        use std::io::BufRead;
        let mut child = Command::new(cue_bin())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start cue-bgp");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Interactive {
            child,
            stdin,
            lines,
        }
    }

    /// The next command reply (`ok` or `error: ...`), skipping event lines;
    /// panics when none comes within `timeout`.
    pub fn reply(&mut self, timeout: Duration) -> String {
        loop {
            let l = self.lines.recv_timeout(timeout).expect("a reply");
            if l == "ok" || l.starts_with("error:") {
                return l;
            }
        }
    }

    /// Writes one line to standard input.
    pub fn send(&mut self, line: &str) {
        use std::io::Write;
        writeln!(self.stdin, "{line}").expect("write to cue-bgp");
    }
}

impl Drop for Interactive {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that is bound, so that no other test takes it, but not listening:
/// a connection to it is refused (a SYN gets a RST) for as long as the
/// returned socket lives.
pub fn closed_port(bind: &str) -> (std::net::SocketAddr, socket2::Socket) {
    let addr: std::net::SocketAddr = bind.parse().expect("an address");
    let s = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )
    .expect("socket");
    s.bind(&addr.into()).expect("bind");
    let bound = s
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .expect("bound address");
    (bound, s)
}

/// A TCP backend on loopback that can be stopped and started again on the
/// same port, which stays reserved (bound, not listening) while stopped so
/// that no other test takes it.
pub struct Backend {
    pub addr: std::net::SocketAddr,
    sock: Option<socket2::Socket>,
}

impl Backend {
    fn socket(addr: std::net::SocketAddr, listen: bool) -> socket2::Socket {
        let s = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM,
            None,
        )
        .expect("socket");
        s.set_reuse_address(true).expect("SO_REUSEADDR");
        // The port's previous socket may still be in the kernel's hands for
        // a moment (seen as EADDRINUSE under load): try again briefly.
        let mut tries = 0;
        while let Err(e) = s.bind(&addr.into()) {
            tries += 1;
            assert!(tries < 100, "bind {addr}: {e}");
            std::thread::sleep(Duration::from_millis(20));
        }
        if listen {
            s.listen(128).expect("listen");
        }
        s
    }

    /// A listening backend on a free port of `bind`'s address.
    pub fn start(bind: &str) -> Backend {
        let s = Backend::socket(bind.parse().expect("an address"), true);
        let addr = s
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .expect("bound address");
        Backend {
            addr,
            sock: Some(s),
        }
    }

    /// Stops listening; connections are refused from now on.
    pub fn stop(&mut self) {
        self.sock = None;
        self.sock = Some(Backend::socket(self.addr, false));
    }

    /// Listens again on the same port.
    pub fn resume(&mut self) {
        self.sock = None;
        self.sock = Some(Backend::socket(self.addr, true));
    }
}

/// A BIRD that listens on `port` for cue-bgp at `neighbor`.
pub fn bird_passive(port: u16, local: &str, neighbor: &str, local_as: u32, peer_as: u32) -> Bird {
    bird_passive_with(port, local, neighbor, local_as, peer_as, "")
}

/// [`bird_passive`] with `channel` (more BIRD options) in both channels.
pub fn bird_passive_with(
    port: u16,
    local: &str,
    neighbor: &str,
    local_as: u32,
    peer_as: u32,
    channel: &str,
) -> Bird {
    let peer = BirdPeer {
        local,
        neighbor,
        local_as,
        peer_as,
    };
    bird_passive_opts(port, peer, "", channel)
}

/// The session of a BIRD of [`bird_passive_opts`]: its address and AS, the
/// peer's address and AS.
pub struct BirdPeer<'a> {
    pub local: &'a str,
    pub neighbor: &'a str,
    pub local_as: u32,
    pub peer_as: u32,
}

/// A BIRD in AS 65001 on 127.0.0.1 waiting for the speaker at 127.0.0.1
/// (iBGP), with `protocol` (options of its BGP protocol: a password, `ttl
/// security on`, ...).
pub fn ibgp_bird_with(port: u16, protocol: &str) -> Bird {
    let peer = BirdPeer {
        local: "127.0.0.1",
        neighbor: "127.0.0.1",
        local_as: 65001,
        peer_as: 65001,
    };
    bird_passive_opts(port, peer, protocol, "")
}

/// [`bird_passive_with`] with `protocol`, options of the BGP protocol.
pub fn bird_passive_opts(port: u16, peer: BirdPeer<'_>, protocol: &str, channel: &str) -> Bird {
    let BirdPeer {
        local,
        neighbor,
        local_as,
        peer_as,
    } = peer;
    let multihop = if local_as != peer_as { "multihop;" } else { "" };
    Bird::start(&format!(
        r#"
log stderr all;
router id 127.0.0.2;
protocol device {{}}
protocol bgp lb {{
  local {local} port {port} as {local_as};
  neighbor {neighbor} as {peer_as};
  passive;
  error wait time 1, 2;   # BIRD's default keeps a failed session down 60 s
  debug {{ states, routes, events }};  # what was added and removed, in its log
  {multihop}
  {protocol}
  ipv4 {{ import all; export none; {channel} }};
  ipv6 {{ import all; export none; {channel} }};
}}
"#
    ))
}

/// BIRD's routes, their prefixes sorted.
pub fn prefixes(bird: &Bird) -> Vec<String> {
    let mut p: Vec<String> = bird.routes().into_iter().map(|(p, _)| p).collect();
    p.sort();
    p
}

/// Owned and sorted, to compare with [`prefixes`].
pub fn sorted(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// BIRD's log lines that remove `prefix` from its table (with `debug
/// routes`, as [`bird_passive`] sets).
pub fn removals(bird: &Bird, prefix: &str) -> usize {
    bird.log()
        .lines()
        .filter(|l| l.contains("removed") && l.contains(prefix))
        .count()
}

pub const BGPD: &str = "/usr/lib/frr/bgpd";

/// FRR's bgpd alone (no zebra), from a configuration, on loopback.
pub struct Frr {
    child: Child,
    dir: Scratch,
}

impl Frr {
    pub fn start(config: &str, port: u16) -> Frr {
        Frr::start_on(config, "127.0.0.1", port)
    }

    /// bgpd listening on `address` (`::1` for an IPv6 session).
    pub fn start_on(config: &str, address: &str, port: u16) -> Frr {
        let dir = Scratch::new("frr");
        std::fs::write(dir.path("bgpd.conf"), config).unwrap();
        let log = std::fs::File::create(dir.path("bgpd.log")).unwrap();
        let child = Command::new(BGPD)
            .args([
                "-Z",
                "-S",
                "-P",
                "0",
                "-l",
                address,
                "-p",
                &port.to_string(),
            ])
            .arg("-f")
            .arg(dir.path("bgpd.conf"))
            .arg("-i")
            .arg(dir.path("bgpd.pid"))
            .arg("--vty_socket")
            .arg(&dir.0)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start bgpd");
        let frr = Frr { child, dir };
        wait_for("bgpd's vty", Duration::from_secs(20), || {
            frr.vtysh("show bgp summary")
                .contains("65001")
                .then_some(())
        });
        frr
    }

    pub fn vtysh(&self, cmd: &str) -> String {
        Command::new("vtysh")
            .arg("--vty_socket")
            .arg(&self.dir.0)
            .args(["-d", "bgpd", "-c", cmd])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    pub fn route(&self, family: &str, prefix: &str) -> Option<serde_json::Value> {
        let text = self.vtysh(&format!("show bgp {family} unicast {prefix} json"));
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        v.get("paths")?.get(0).cloned()
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two network namespaces joined by a veth pair (`va` in `a`, `vb` in
/// `b`), loopback up in both, removed on drop; the caller gives the
/// addresses and brings the pair up. `None` where namespaces cannot be
/// made (no root, no iproute2, a sandbox that refuses).
pub struct Veth {
    pub a: String,
    pub b: String,
}

impl Veth {
    /// Namespaces named `TAG PID-N a` and `... b`, unique in this machine.
    pub fn new(tag: &str) -> Option<Veth> {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = std::process::id() % 100_000;
        let veth = Veth {
            a: format!("{tag}{id}-{n}a"),
            b: format!("{tag}{id}-{n}b"),
        };
        let (a, b) = (veth.a.as_str(), veth.b.as_str());
        let ok = ip(&["netns", "add", a])
            && ip(&["netns", "add", b])
            && ip(&[
                "link", "add", "va", "netns", a, "type", "veth", "peer", "name", "vb", "netns", b,
            ])
            && ip(&["-n", a, "link", "set", "lo", "up"])
            && ip(&["-n", b, "link", "set", "lo", "up"]);
        ok.then_some(veth)
    }

    /// Runs `ip -n NS ARGS` in `a` (`side` false) or `b` (true).
    pub fn ip(&self, b_side: bool, args: &[&str]) -> bool {
        let ns = if b_side { &self.b } else { &self.a };
        let mut all = vec!["-n", ns.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        ip(&["netns", "del", &self.a]);
        ip(&["netns", "del", &self.b]);
    }
}

/// The example's binary: `cargo test` builds it beside the test binaries;
/// built here when only this test was asked for.
pub fn example(name: &str) -> std::path::PathBuf {
    let mut p = std::env::current_exe().unwrap();
    p.pop();
    if p.ends_with("deps") {
        p.pop();
    }
    let bin = p.join("examples").join(name);
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = Command::new(cargo)
            .args(["build", "--quiet", "--example", name])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "cannot build the {name} example");
    }
    bin
}

/// ExaBGP run from `dir`'s `exabgp.conf`, listening on `bind`:`port`
/// (its log appended to `dir`'s `exabgp.log`; what its `log-updates.py`
/// process is handed goes to `dir`'s `received.json`), once it listens.
pub fn exabgp_listening(dir: &Scratch, bind: &str, port: u16) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.path("exabgp.log"))
        .unwrap();
    let child = Command::new("exabgp")
        .arg("./exabgp.conf")
        .current_dir(&dir.0)
        .env("exabgp.tcp.bind", bind)
        .env("exabgp.tcp.port", port.to_string())
        .env("exabgp.daemon.user", current_user())
        .env("exabgp.cli.enable", "false")
        .env("CUE_EXABGP_LOG", dir.path("received.json"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start exabgp");
    wait_for("ExaBGP to listen", Duration::from_secs(15), || {
        std::net::TcpStream::connect((bind, port)).ok().map(drop)
    });
    child
}

/// An ExaBGP configuration: `neighbors`, after the `log-updates` process
/// (`examples/exabgp/log-updates.py`, JSON) that a neighbor's `api`
/// names to have what it receives written to `received.json`
/// ([`exabgp_listening`]).
pub fn exabgp_logging(neighbors: &str) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/exabgp/log-updates.py");
    format!(
        "process log-updates {{\n    run {};\n    encoder json;\n}}\n{neighbors}",
        script.display()
    )
}
