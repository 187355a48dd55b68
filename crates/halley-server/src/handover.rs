//! Listening sockets handed from one run of the server to the next at a
//! restart (`meta/restart-service`, `meta/server-config/set`). The next run
//! accepts on the same sockets, so each listener keeps its port (one the
//! system chose too), and a client that connects during the restart waits in
//! the socket's backlog instead of being refused.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};

/// The sockets a run listens on, by the address each was asked for
/// (`127.0.0.1:0`, say), kept open past the run's end.
#[derive(Default)]
pub struct Handover(Vec<(SocketAddr, TcpListener)>);

impl Handover {
    pub fn keep(&mut self, asked: SocketAddr, listener: TcpListener) {
        self.0.push((asked, listener));
    }

    /// What the next run may take.
    pub fn into_inherited(self) -> Inherited {
        Inherited(self.0.into_iter().collect())
    }
}

/// The sockets the previous run handed over. Those no listener of this run
/// takes (its `ListenAddresses` changed) are closed when this is dropped.
#[derive(Default)]
pub struct Inherited(HashMap<SocketAddr, TcpListener>);

impl Inherited {
    /// The socket handed over for `asked`, if one was.
    pub fn take(&mut self, asked: SocketAddr) -> Option<TcpListener> {
        self.0.remove(&asked)
    }
}
