//! strata-gateway: talking to BuildKit as a gateway frontend.
//!
//! * [`transport`]: the gRPC channel over stdin/stdout.
//! * [`bridge`]: a typed client for the `LLBBridge` service.
//! * [`options`]: the frontend options from the environment.
//! * [`proto`]: the generated protocol types.
//!
//! In gateway mode stdout is the gRPC wire: never print to stdout, log to
//! stderr.

pub mod bridge;
pub mod options;
pub mod proto;
pub mod transport;

pub use bridge::{Bridge, BridgeError, Caps, RefId};
pub use options::Options;

pub mod dockerignore;
pub mod error;
pub mod frontend;
pub mod platform;
pub mod system;
pub mod warnings;
