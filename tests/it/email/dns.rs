//! A fake DNS server on 127.0.0.1 (UDP, the RFC 1035 wire format) that answers TXT queries from
//! a table the test fills: the DKIM keys of the domains a test signs for. Unknown names get
//! NXDOMAIN.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::UdpSocket;

pub struct FakeDns {
    pub addr: SocketAddr,
    records: Arc<Mutex<HashMap<String, String>>>,
}

impl FakeDns {
    pub async fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let records: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let table = records.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 1500];
            loop {
                let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                let reply = answer(&buf[..n], &table.lock().unwrap());
                if let Some(answer) = reply {
                    let _ = socket.send_to(&answer, peer).await;
                }
            }
        });
        Self { addr, records }
    }

    /// Serves `text` as the TXT record of `name`.
    pub fn txt(&self, name: &str, text: &str) {
        self.records
            .lock()
            .unwrap()
            .insert(name.trim_end_matches('.').to_ascii_lowercase(), text.to_owned());
    }
}

/// The response to one query: the TXT record when the name is known, else NXDOMAIN.
fn answer(query: &[u8], records: &HashMap<String, String>) -> Option<Vec<u8>> {
    if query.len() < 12 {
        return None;
    }
    // The question: labels, then type and class.
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = *query.get(at)? as usize;
        at += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(at..at + len)?).to_ascii_lowercase());
        at += len;
    }
    let qtype = u16::from_be_bytes([*query.get(at)?, *query.get(at + 1)?]);
    let question = &query[12..at + 4];
    let name = labels.join(".");
    let found = records.get(&name).filter(|_| qtype == 16);
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&query[0..2]);
    // QR, opcode 0, RD copied; RA; RCODE 0 or 3 (NXDOMAIN).
    let rd = query[2] & 0x01;
    out.push(0x80 | rd);
    out.push(if found.is_some() { 0x80 } else { 0x83 });
    out.extend_from_slice(&[0, 1]);
    out.extend_from_slice(&[0, u8::from(found.is_some())]);
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(question);
    if let Some(text) = found {
        let mut rdata = Vec::new();
        for chunk in text.as_bytes().chunks(255) {
            rdata.push(chunk.len() as u8);
            rdata.extend_from_slice(chunk);
        }
        out.extend_from_slice(&[0xC0, 0x0C, 0, 16, 0, 1, 0, 0, 0, 60]);
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(&rdata);
    }
    Some(out)
}
