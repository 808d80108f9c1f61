//! candor-tls against real clients: a test CA's certificate served over
//! TLS, plain HTTP refused, untrusted clients refused, and the errors of
//! bad certificate and key files.

mod files;
mod serve;
