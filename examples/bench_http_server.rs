//! A loopback HTTP server for `scripts/bench-director.sh`: listens on
//! 127.0.0.FIRST..=127.0.0.LAST, ports P..P+N, answers every request with 200
//! and keeps connections alive, and prints the total number of requests
//! served once a second.
//!
//! ```text
//! cargo run --release --example bench_http_server -- FIRST LAST FIRST-PORT PORTS
//! ```

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Response;
use hyper_util::rt::TokioIo;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<u32> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let [first, last, first_port, ports] = args[..] else {
        return Err("usage: bench_http_server FIRST LAST FIRST-PORT PORTS".into());
    };
    let served = Arc::new(AtomicU64::new(0));
    for a in first..=last {
        for p in 0..ports {
            let addr = SocketAddr::new(
                Ipv4Addr::new(127, 0, 0, a as u8).into(),
                (first_port + p) as u16,
            );
            let l = TcpListener::bind(addr).await?;
            let served = served.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((tcp, _)) = l.accept().await else {
                        continue;
                    };
                    let served = served.clone();
                    tokio::spawn(async move {
                        let svc = service_fn(move |_req| {
                            served.fetch_add(1, Ordering::Relaxed);
                            async {
                                Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::from_static(
                                    b"ok\n",
                                ))))
                            }
                        });
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(tcp), svc)
                            .await;
                    });
                }
            });
        }
    }
    println!("listening");
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        println!("served {}", served.load(Ordering::Relaxed));
    }
}
