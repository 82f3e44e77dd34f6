//! `tcp`: a plain connect.

use super::super::config::CheckSpec;
use super::ProbeError;
use std::net::SocketAddr;
use tokio::net::TcpStream;

pub(super) async fn probe(spec: &CheckSpec) -> Result<String, ProbeError> {
    match TcpStream::connect(SocketAddr::new(spec.address, spec.port)).await {
        Ok(_) => Ok("connected".into()),
        Err(e) => Err(ProbeError::connect(format!("connect: {e}"))),
    }
}
