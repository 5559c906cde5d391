//! The endpoint's HTTP side: `GET /metrics` (and `HEAD`) on hyper, gzip
//! when the scraper accepts it (Prometheus always does). Each exposition
//! is rendered on a blocking thread, so a scrape never holds a runtime
//! thread; a sweep running meanwhile is not slowed by more than the CPU
//! it shares.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderValue, ACCEPT_ENCODING, ALLOW, CONTENT_ENCODING, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use super::text::CONTENT_TYPE as EXPOSITION;
use super::Exporter;

/// Connections served at once; more are closed at once.
const MAX_CONNECTIONS: usize = 16;
/// A client that has not sent its request headers by then is dropped.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `exporter` on `listener` until `stop` turns true; connections
/// open then are closed after their request in progress.
pub async fn serve(listener: TcpListener, exporter: Arc<Exporter>, stop: watch::Receiver<bool>) {
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
        let exporter = Arc::clone(&exporter);
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = service_fn(move |request| answer(request, Arc::clone(&exporter)));
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

async fn answer(request: Request<Incoming>, exporter: Arc<Exporter>) -> Result<Response<Full<Bytes>>, Infallible> {
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
    let body = match tokio::task::spawn_blocking(move || exporter.body(gzip)).await {
        Ok(body) => body,
        Err(e) => {
            tracing::error!("metrics: rendering the exposition failed: {e}");
            return Ok(plain(StatusCode::INTERNAL_SERVER_ERROR, "the exposition could not be rendered\n"));
        }
    };
    let mut response = Response::new(Full::new(if head { Bytes::new() } else { Bytes::from(body) }));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(EXPOSITION));
    if gzip {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    Ok(response)
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
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
