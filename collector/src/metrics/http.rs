//! The endpoint's HTTP side: `GET /metrics` (and `HEAD`) on hyper, gzip
//! when the scraper accepts it (Prometheus always does). Each exposition
//! is rendered on a blocking thread, so a scrape never holds a runtime
//! thread, and streamed to the scraper in chunks as it is rendered
//! (chunked transfer), so a scrape holds a few chunks in memory, not the
//! whole exposition (2.4 MB of text for 100 containers with compose
//! labels). The gzipped exposition (what Prometheus asks for, about 13
//! times smaller) is kept until the next sweep changes it: scrapes more
//! frequent than sweeps, and the second server of an HA pair, get it
//! without rendering again.

use std::convert::Infallible;
use std::io::{self, BufWriter};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::{Either, Full};
use hyper::body::{Body, Bytes, Frame, Incoming};
use hyper::header::{HeaderMap, HeaderValue, ACCEPT_ENCODING, ALLOW, CONTENT_ENCODING, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Semaphore};

use super::text::{CHUNK, CONTENT_TYPE as EXPOSITION};
use super::{Exporter, Version};

/// Connections served at once; more are closed at once.
const MAX_CONNECTIONS: usize = 16;
/// A client that has not sent its request headers by then is dropped.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Chunks rendered ahead of what the scraper has read.
const CHUNKS_AHEAD: usize = 4;

/// A response: a short fixed text, or an exposition as it is rendered.
type Answer = Response<Either<Full<Bytes>, Chunks>>;

/// Serves `exporter` on `listener` until `stop` turns true; connections
/// open then are closed after their request in progress.
pub async fn serve(listener: TcpListener, exporter: Arc<Exporter>, stop: watch::Receiver<bool>) {
    let endpoint = Arc::new(Endpoint { exporter, gzipped: Mutex::new(None) });
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut stopping = stop.clone();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, most likely: wait a moment.
                    tracing::warn!("metrics: accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stopping.changed() => return,
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            continue;
        };
        let endpoint = Arc::clone(&endpoint);
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = service_fn(move |request| answer(request, Arc::clone(&endpoint)));
            let mut builder = http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                // A client that goes away is the client's business.
                _ = connection.as_mut() => {}
                _ = stop.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
}

/// The exporter and its newest gzipped exposition.
struct Endpoint {
    exporter: Arc<Exporter>,
    gzipped: Mutex<Option<(Version, Bytes)>>,
}

impl Endpoint {
    /// The gzipped exposition: the kept one while the version is the same.
    /// Concurrent scrapes wait for one rendering.
    fn gzipped(&self) -> io::Result<Bytes> {
        let mut kept = self.gzipped.lock().unwrap_or_else(PoisonError::into_inner);
        let version = self.exporter.version();
        if let Some((kept_version, body)) = kept.as_ref() {
            if *kept_version == version {
                return Ok(body.clone());
            }
        }
        let body = Bytes::from(self.exporter.write_gzip(Vec::with_capacity(256 << 10))?);
        *kept = Some((version, body.clone()));
        Ok(body)
    }
}

async fn answer(request: Request<Incoming>, endpoint: Arc<Endpoint>) -> Result<Answer, Infallible> {
    if request.uri().path() != "/metrics" {
        return Ok(plain(StatusCode::NOT_FOUND, "kura-collector serves GET /metrics\n"));
    }
    let head = match *request.method() {
        Method::GET => false,
        Method::HEAD => true,
        _ => {
            let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "GET or HEAD\n");
            response.headers_mut().insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return Ok(response);
        }
    };
    let gzip = accepts_gzip(request.headers());
    let body = if gzip {
        let rendered = tokio::task::spawn_blocking(move || endpoint.gzipped()).await;
        match rendered {
            Ok(Ok(body)) => Either::Left(Full::new(if head { Bytes::new() } else { body })),
            Ok(Err(e)) => return Ok(failed(&e)),
            Err(e) => return Ok(failed(&e)),
        }
    } else {
        let (sender, receiver) = mpsc::channel(CHUNKS_AHEAD);
        if !head {
            tokio::task::spawn_blocking(move || {
                let sink = BufWriter::with_capacity(CHUNK, ChunkSender(sender));
                let written = endpoint.exporter.write(sink).and_then(|mut sink| io::Write::flush(&mut sink));
                if let Err(e) = written {
                    tracing::debug!("metrics: the scraper went away: {e}");
                }
            });
        }
        Either::Right(Chunks(receiver))
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(EXPOSITION));
    if gzip {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    Ok(response)
}

fn failed(error: &dyn std::fmt::Display) -> Answer {
    tracing::error!("metrics: rendering the exposition failed: {error}");
    plain(StatusCode::INTERNAL_SERVER_ERROR, "the exposition could not be rendered\n")
}

fn plain(status: StatusCode, text: &'static str) -> Answer {
    let mut response = Response::new(Either::Left(Full::new(Bytes::from_static(text.as_bytes()))));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

/// The rendering thread's end of a response body: each write is a chunk.
struct ChunkSender(mpsc::Sender<Bytes>);

impl io::Write for ChunkSender {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.blocking_send(Bytes::copy_from_slice(buf)).map_err(|_| io::ErrorKind::BrokenPipe)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A response body of the chunks the rendering thread sends; it ends when
/// the thread is done.
pub struct Chunks(mpsc::Receiver<Bytes>);

impl Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|chunk| chunk.map(|bytes| Ok(Frame::data(bytes))))
    }
}

/// Whether `Accept-Encoding` accepts gzip: `gzip` or `*` with a weight
/// above 0 (RFC 9110, section 12.5.3).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let weight = parts
                .find_map(|p| p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")))
                .map_or(1.0, |q| q.trim().parse::<f64>().unwrap_or(0.0));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && weight > 0.0
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(values: &[&str]) -> bool {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        }
        accepts_gzip(&headers)
    }

    #[test]
    fn gzip_is_sent_only_when_accepted() {
        assert!(accepts(&["gzip"]));
        assert!(accepts(&["deflate, GZIP;q=0.5"]));
        assert!(accepts(&["identity", "*"]));
        assert!(!accepts(&[]));
        assert!(!accepts(&["identity"]));
        assert!(!accepts(&["gzip;q=0", "br"]));
    }
}
