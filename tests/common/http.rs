//! Just enough HTTP/1.1 for the test proxy and the moto client.
//!
//! Messages are read whole: start line, headers, then a body framed by
//! `Content-Length`, `Transfer-Encoding: chunked` or (responses only) the end of
//! the connection. Writers always re-frame the body with a fresh `Content-Length`
//! and drop hop-by-hop headers, so a message can be read on one connection and
//! written to another unchanged.

use std::io::{self, BufRead, Read, Write};

/// Header names and values in arrival order; names compare case-insensitively.
pub type Headers = Vec<(String, String)>;

/// Headers that describe one connection or one framing, never forwarded as-is.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "content-length",
    "expect",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// One HTTP request with its body fully read.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub headers: Headers,
    pub body: Vec<u8>,
}

/// One HTTP response with its body fully read.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
    pub body: Vec<u8>,
}

impl Request {
    /// The first value of header `name`, if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// Whether the client wants the connection closed after this exchange.
    pub fn wants_close(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
    }
}

impl Response {
    /// The first value of header `name`, if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The body parsed as JSON; panics with the body if it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "HTTP {} body is not JSON ({e}): {}",
                self.status,
                self.text()
            )
        })
    }

    /// The body as text, invalid UTF-8 replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The first value of header `name` in `headers`, if any.
pub fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Replaces every header `name` with one carrying `value`.
pub fn set_header(headers: &mut Headers, name: &str, value: &str) {
    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    headers.push((name.to_string(), value.to_string()));
}

/// `host:port` of an `http://` URL (port 80 if none); panics on other schemes.
pub fn authority(url: &str) -> String {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("only plain http:// URLs are supported, got `{url}`"));
    let host = rest.split('/').next().unwrap_or_default();
    assert!(!host.is_empty(), "URL `{url}` has no host");
    if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:80")
    }
}

/// Reads the next request. `Ok(None)` means the peer closed the connection
/// before sending a byte, which is how a kept-alive connection normally ends.
///
/// A client that sent `Expect: 100-continue` waits for an interim answer before
/// sending the body, so that answer goes to `interim`.
pub fn read_request(r: &mut impl BufRead, interim: &mut impl Write) -> io::Result<Option<Request>> {
    let Some((start, headers)) = read_head(r)? else {
        return Ok(None);
    };
    let mut parts = start.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(invalid(format!("bad request line `{start}`")));
    };
    if header(&headers, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        interim.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        interim.flush()?;
    }
    let body = read_body(r, &headers, false)?;
    let (method, target) = (method.to_string(), target.to_string());
    Ok(Some(Request {
        method,
        target,
        headers,
        body,
    }))
}

/// Reads one final response, skipping interim `1xx` ones. `head` says whether
/// it answers a HEAD request, which has no body whatever the headers say.
pub fn read_response(r: &mut impl BufRead, head: bool) -> io::Result<Response> {
    loop {
        let (start, headers) = read_head(r)?.ok_or_else(|| eof("before the response"))?;
        let (status, reason) = parse_status_line(&start)?;
        if (100..200).contains(&status) {
            continue;
        }
        let body = if head || status == 204 || status == 304 {
            Vec::new()
        } else {
            read_body(r, &headers, true)?
        };
        return Ok(Response {
            status,
            reason,
            headers,
            body,
        });
    }
}

/// Writes `req` with its body framed by `Content-Length`; `close` adds
/// `Connection: close`.
pub fn write_request(w: &mut impl Write, req: &Request, close: bool) -> io::Result<()> {
    let start = format!("{} {} HTTP/1.1", req.method, req.target);
    write_message(w, &start, &req.headers, &req.body, close)
}

/// Writes `resp` with its body framed by `Content-Length`; `close` adds
/// `Connection: close`.
pub fn write_response(w: &mut impl Write, resp: &Response, close: bool) -> io::Result<()> {
    let start = format!("HTTP/1.1 {} {}", resp.status, resp.reason);
    write_message(w, &start, &resp.headers, &resp.body, close)
}

fn write_message(
    w: &mut impl Write,
    start: &str,
    headers: &Headers,
    body: &[u8],
    close: bool,
) -> io::Result<()> {
    // One write for head and body: fewer packets, and a peer that reads the
    // head never waits on a delayed ACK for the body.
    let mut message = Vec::with_capacity(body.len() + 512);
    write!(message, "{start}\r\n")?;
    for (name, value) in headers {
        if !HOP_BY_HOP.iter().any(|h| name.eq_ignore_ascii_case(h)) {
            write!(message, "{name}: {value}\r\n")?;
        }
    }
    write!(message, "Content-Length: {}\r\n", body.len())?;
    if close {
        message.extend_from_slice(b"Connection: close\r\n");
    }
    message.extend_from_slice(b"\r\n");
    message.extend_from_slice(body);
    w.write_all(&message)?;
    w.flush()
}

fn parse_status_line(line: &str) -> io::Result<(u16, String)> {
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let status = parts.next().and_then(|s| s.parse().ok());
    match status {
        Some(status) if version.starts_with("HTTP/") => {
            Ok((status, parts.next().unwrap_or_default().to_string()))
        }
        _ => Err(invalid(format!("bad status line `{line}`"))),
    }
}

/// Start line and headers; `None` on a clean end of stream before the message.
fn read_head(r: &mut impl BufRead) -> io::Result<Option<(String, Headers)>> {
    // RFC 9112 §2.2: ignore empty lines before a request line.
    let start = loop {
        match read_line(r)? {
            None => return Ok(None),
            Some(line) if line.is_empty() => {}
            Some(line) => break line,
        }
    };
    let mut headers = Headers::new();
    loop {
        let line = read_line(r)?.ok_or_else(|| eof("in the headers"))?;
        if line.is_empty() {
            return Ok(Some((start, headers)));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad header line `{line}`")))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
}

/// One line without its CRLF; `None` at end of stream.
fn read_line(r: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    if r.read_until(b'\n', &mut buf)? == 0 {
        return Ok(None);
    }
    if buf.pop() != Some(b'\n') {
        return Err(eof("in the middle of a line"));
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

/// The body framed as `headers` say; with neither length nor chunking, a
/// response runs to the end of the connection and a request is empty.
fn read_body(r: &mut impl BufRead, headers: &Headers, until_eof: bool) -> io::Result<Vec<u8>> {
    let chunked = header(headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        return read_chunked(r);
    }
    let mut body = Vec::new();
    if let Some(len) = header(headers, "content-length") {
        let len: u64 = len
            .parse()
            .map_err(|_| invalid(format!("bad Content-Length `{len}`")))?;
        r.take(len).read_to_end(&mut body)?;
        if body.len() as u64 != len {
            return Err(eof("in the body"));
        }
    } else if until_eof {
        r.read_to_end(&mut body)?;
    }
    Ok(body)
}

fn read_chunked(r: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(r)?.ok_or_else(|| eof("in a chunk size"))?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| invalid(format!("bad chunk size `{line}`")))?;
        if size == 0 {
            break;
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        read_line(r)?;
    }
    // Trailer fields, up to the empty line that ends the message.
    while read_line(r)?.is_some_and(|line| !line.is_empty()) {}
    Ok(body)
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn eof(place: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("connection closed {place}"),
    )
}
