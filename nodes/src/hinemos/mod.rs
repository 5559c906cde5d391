//! Hinemos 7's REST API: the documents ([`dto`]) and the client ([`client`]).

pub mod client;
pub mod dto;

pub use client::{api_base, Manager, ManagerConfig, ManagerError};

#[cfg(test)]
mod contract;
