//! A minimal HTTP/1.1 keep-alive client for the timed phase.
//!
//! The load generator shares the machine with the collector it measures, so
//! every microsecond it spends per request is taken from the server. Like
//! wrk, it writes a pre-formatted request (one header block, then the body)
//! and reads the answer with a small parser: status line, `Content-Length`
//! (or chunked) body, `Retry-After` and `Connection: close`. Plain `http://`
//! only: the generator targets 127.0.0.1.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// What the client needs from an answer.
#[derive(Debug)]
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) retry_after: Option<u64>,
    pub(super) body: Vec<u8>,
}

/// One keep-alive connection, reconnected when the server closes it.
pub(super) struct Connection {
    authority: String,
    head: String,
    timeout: Duration,
    max_answer: usize,
    stream: Option<BufReader<TcpStream>>,
}

/// Splits `http://host:port/...` into `host:port`; other schemes are refused.
pub(super) fn authority(base_url: &str) -> Option<&str> {
    let rest = base_url.strip_prefix("http://")?;
    let end = rest.find('/').unwrap_or(rest.len());
    let auth = &rest[..end];
    (!auth.is_empty()).then_some(auth)
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

impl Connection {
    /// A connection to `authority` posting to `path` with `content_type`.
    pub(super) fn new(
        authority: &str,
        path: &str,
        content_type: &str,
        timeout: Duration,
        max_answer: usize,
    ) -> Self {
        Connection {
            authority: authority.to_owned(),
            head: format!(
                "POST {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: candor-load\r\n\
                 Content-Type: {content_type}\r\nContent-Length: "
            ),
            timeout,
            max_answer,
            stream: None,
        }
    }

    fn stream(&mut self) -> io::Result<&mut BufReader<TcpStream>> {
        if self.stream.is_none() {
            let s = TcpStream::connect(&self.authority)?;
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(self.timeout))?;
            s.set_write_timeout(Some(self.timeout))?;
            self.stream = Some(BufReader::with_capacity(16 * 1024, s));
        }
        self.stream
            .as_mut()
            .ok_or_else(|| io::Error::other("no connection"))
    }

    /// Posts `body` and reads the whole answer. On any error the connection
    /// is dropped (the next call reconnects) and the error returned.
    pub(super) fn post(&mut self, body: &[u8]) -> io::Result<Answer> {
        let result = self.exchange(body);
        match &result {
            Ok(a) if !a.keep_alive => self.stream = None,
            Err(_) => self.stream = None,
            Ok(_) => {}
        }
        result.map(|a| a.answer)
    }

    fn exchange(&mut self, body: &[u8]) -> io::Result<Exchanged> {
        let mut request = Vec::with_capacity(self.head.len() + 32 + body.len());
        request.extend_from_slice(self.head.as_bytes());
        request.extend_from_slice(format!("{}\r\n\r\n", body.len()).as_bytes());
        request.extend_from_slice(body);
        let max_answer = self.max_answer;
        let reader = self.stream()?;
        reader.get_mut().write_all(&request)?;

        let mut line = String::new();
        reader.read_line(&mut line)?;
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .filter(|_| line.starts_with("HTTP/1."))
            .ok_or_else(|| invalid("bad status line"))?;
        let (mut length, mut chunked, mut keep_alive, mut retry_after) = (None, false, true, None);
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Err(invalid("connection closed in the headers"));
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else {
                return Err(invalid("bad header"));
            };
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse::<usize>().ok(),
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "connection" => keep_alive = !value.eq_ignore_ascii_case("close"),
                "retry-after" => retry_after = value.parse::<u64>().ok(),
                _ => {}
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                reader.read_line(&mut line)?;
                let size =
                    usize::from_str_radix(line.trim_end().split(';').next().unwrap_or(""), 16)
                        .map_err(|_| invalid("bad chunk size"))?;
                if body.len() + size > max_answer {
                    return Err(invalid("answer too large"));
                }
                let start = body.len();
                body.resize(start + size, 0);
                reader.read_exact(&mut body[start..])?;
                line.clear();
                reader.read_line(&mut line)?;
                if size == 0 {
                    break;
                }
            }
        } else if let Some(n) = length {
            if n > max_answer {
                return Err(invalid("answer too large"));
            }
            body.resize(n, 0);
            reader.read_exact(&mut body)?;
        } else {
            // No length: the body runs to the end of the connection.
            reader.take(max_answer as u64).read_to_end(&mut body)?;
            keep_alive = false;
        }
        Ok(Exchanged {
            answer: Answer {
                status,
                retry_after,
                body,
            },
            keep_alive,
        })
    }
}

struct Exchanged {
    answer: Answer,
    keep_alive: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_of_http_urls_only() {
        assert_eq!(authority("http://127.0.0.1:8750"), Some("127.0.0.1:8750"));
        assert_eq!(authority("http://localhost:1/x/y"), Some("localhost:1"));
        assert_eq!(authority("https://example.org"), None);
        assert_eq!(authority("http://"), None);
    }
}
