//! A recording, fault-injecting HTTP/1.1 proxy between smcache and moto.
//!
//! Tests point smcache's endpoint at the proxy to count the calls that really
//! reach Secrets Manager (a cache hit must make none) and to make Secrets
//! Manager fail on demand. The SDK keeps connections alive, so each client
//! connection is served in a loop; each request goes to moto on a fresh
//! connection so that a fault on one request never leaves moto half-answered.

use std::collections::HashMap;
use std::io::{self, BufReader};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::http::{self, Request, Response};

/// How long a client connection may sit idle before its thread gives up.
const CLIENT_IDLE: Duration = Duration::from_secs(60);

/// How long moto may take to answer one forwarded request.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);

/// What the proxy does with a request instead of forwarding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    /// Forward to moto.
    #[default]
    None,
    /// Answer at once with this status and AWS error type; moto never sees it.
    Status(u16, &'static str),
    /// Read the request, wait this long, then close without answering.
    Hang(Duration),
    /// Read the request and close the connection without answering.
    Close,
}

/// The proxy in front of moto; stops accepting when dropped.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

/// State shared between the test thread and the connection threads.
struct Shared {
    upstream: String,
    stop: AtomicBool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    requests: Vec<(String, Value)>,
    connections: usize,
    fault: Fault,
    faults_by_action: HashMap<String, Fault>,
}

impl Proxy {
    /// Starts a proxy on a free loopback port forwarding to `upstream_url`
    /// (`http://host:port`).
    pub fn start(upstream_url: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind test proxy");
        let addr = listener.local_addr().expect("test proxy address");
        let shared = Arc::new(Shared {
            upstream: http::authority(upstream_url),
            stop: AtomicBool::new(false),
            state: Mutex::new(State::default()),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || accept_loop(&listener, &shared))
        };
        Proxy {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// The URL to give smcache as its endpoint.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Applies `fault` to every request without a fault of its own;
    /// `Fault::None` forwards them again.
    pub fn set_fault(&self, fault: Fault) {
        self.shared.state().fault = fault;
    }

    /// Applies `fault` to requests for `action` (`GetSecretValue`) only, over any
    /// fault set with `set_fault`; `Fault::None` removes the override.
    pub fn set_fault_for(&self, action: &str, fault: Fault) {
        let mut state = self.shared.state();
        if fault == Fault::None {
            state.faults_by_action.remove(action);
        } else {
            state.faults_by_action.insert(action.to_string(), fault);
        }
    }

    /// Removes every fault, global and per action.
    pub fn clear_faults(&self) {
        let mut state = self.shared.state();
        state.fault = Fault::None;
        state.faults_by_action.clear();
    }

    /// How many requests for `action` arrived, faulted ones included.
    pub fn calls(&self, action: &str) -> usize {
        let state = self.shared.state();
        state.requests.iter().filter(|(a, _)| a == action).count()
    }

    /// How many requests arrived in all, faulted ones included.
    pub fn total_calls(&self) -> usize {
        self.shared.state().requests.len()
    }

    /// How many client connections were accepted: with keep-alive, fewer than requests.
    pub fn connections(&self) -> usize {
        self.shared.state().connections
    }

    /// Every request so far as (action, JSON body), in arrival order. A body
    /// that is not JSON is recorded as a JSON string, an empty one as null.
    pub fn requests(&self) -> Vec<(String, Value)> {
        self.shared.state().requests.clone()
    }

    /// The JSON bodies of the requests for `action`, in arrival order.
    pub fn bodies(&self, action: &str) -> Vec<Value> {
        let state = self.shared.state();
        let matching = state.requests.iter().filter(|(a, _)| a == action);
        matching.map(|(_, body)| body.clone()).collect()
    }

    /// Forgets the recorded requests and connections; faults stay as they are.
    pub fn reset(&self) {
        let mut state = self.shared.state();
        state.requests.clear();
        state.connections = 0;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);

        // `accept` only returns on a connection, so make one. If even that
        // fails the thread is left blocked rather than hanging the test.
        let woken = TcpStream::connect(self.addr).is_ok();
        if let Some(acceptor) = self.acceptor.take().filter(|_| woken) {
            let _ = acceptor.join();
        }
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not turn every later call into a second panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Records `req` and returns the fault that applies to it.
    fn record(&self, req: &Request) -> Fault {
        let action = action_of(req);
        let mut state = self.state();
        let fault = state
            .faults_by_action
            .get(&action)
            .copied()
            .unwrap_or(state.fault);
        state.requests.push((action, body_json(&req.body)));
        fault
    }
}

/// A loopback URL where nothing listens: a port that was free a moment ago.
pub fn dead_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind for a free port");
    let addr = listener.local_addr().expect("free port address");
    drop(listener);
    format!("http://{addr}")
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.is_stopped() {
            return;
        }
        let Ok(stream) = stream else { continue };
        shared.state().connections += 1;
        let shared = Arc::clone(shared);
        thread::spawn(move || {
            // The client going away mid-exchange is its business, not a test failure.
            let _ = serve_connection(stream, &shared);
        });
    }
}

/// Serves requests on one client connection until it closes or asks to.
fn serve_connection(mut stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_read_timeout(Some(CLIENT_IDLE))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    while let Some(req) = http::read_request(&mut reader, &mut stream)? {
        if shared.is_stopped() {
            break;
        }
        let close = req.wants_close();
        let resp = match shared.record(&req) {
            Fault::None => forward(&shared.upstream, &req),
            Fault::Status(status, error_type) => injected_error(status, error_type),
            Fault::Hang(duration) => {
                sleep_unless_stopped(duration, shared);
                break;
            }
            Fault::Close => break,
        };
        http::write_response(&mut stream, &resp, close)?;
        if close {
            break;
        }
    }
    stream.shutdown(Shutdown::Both)
}

/// Sends `req` to moto on a new connection; a failure becomes a 502 answer.
fn forward(upstream: &str, req: &Request) -> Response {
    let mut req = req.clone();
    http::set_header(&mut req.headers, "Host", upstream);
    exchange(upstream, &req).unwrap_or_else(|e| {
        let body =
            serde_json::json!({ "message": format!("test proxy: upstream {upstream}: {e}") });
        json_response(502, "Bad Gateway", Vec::new(), &body)
    })
}

fn exchange(upstream: &str, req: &Request) -> io::Result<Response> {
    let mut stream = TcpStream::connect(upstream)?;
    stream.set_read_timeout(Some(UPSTREAM_TIMEOUT))?;
    stream.set_write_timeout(Some(UPSTREAM_TIMEOUT))?;
    http::write_request(&mut stream, req, true)?;
    http::read_response(&mut BufReader::new(stream), req.method == "HEAD")
}

/// The answer AWS gives for an error of type `error_type`.
fn injected_error(status: u16, error_type: &str) -> Response {
    let body = serde_json::json!({ "__type": error_type, "message": "injected by test proxy" });
    let headers = vec![("x-amzn-ErrorType".to_string(), error_type.to_string())];
    json_response(status, "Injected", headers, &body)
}

fn json_response(status: u16, reason: &str, mut headers: http::Headers, body: &Value) -> Response {
    headers.push(("Content-Type".into(), "application/x-amz-json-1.1".into()));
    let body = serde_json::to_vec(body).expect("serialize JSON");
    Response {
        status,
        reason: reason.to_string(),
        headers,
        body,
    }
}

/// Sleeps for `duration`, cut short when the proxy stops so a dropped proxy
/// does not leave threads sleeping behind it.
fn sleep_unless_stopped(duration: Duration, shared: &Shared) {
    let end = Instant::now() + duration;
    while !shared.is_stopped() {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        thread::sleep(left.min(Duration::from_millis(20)));
    }
}

/// `secretsmanager.GetSecretValue` -> `GetSecretValue`; empty without the header.
fn action_of(req: &Request) -> String {
    let target = req.header("x-amz-target").unwrap_or_default();
    target.rsplit('.').next().unwrap_or_default().to_string()
}

fn body_json(body: &[u8]) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}
