//! `tcp`: a plain connect.

use super::super::config::CheckSpec;
use std::net::SocketAddr;
use tokio::net::TcpStream;

pub(super) async fn probe(spec: &CheckSpec) -> Result<String, String> {
    match TcpStream::connect(SocketAddr::new(spec.address, spec.port)).await {
        Ok(_) => Ok("connected".into()),
        Err(e) => Err(format!("connect: {e}")),
    }
}
