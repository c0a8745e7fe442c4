//! Incremental UTF-8 validation. Placeholder implementation.
#![allow(missing_docs)]
#[derive(Debug, Clone, Default)]
pub struct Utf8Validator {
    pending: [u8; 4],
    n: usize,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utf8Error;
impl Utf8Validator {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), Utf8Error> {
        while self.n > 0 && !bytes.is_empty() {
            self.pending[self.n] = bytes[0];
            self.n += 1;
            bytes = &bytes[1..];
            match std::str::from_utf8(&self.pending[..self.n]) {
                Ok(_) => self.n = 0,
                Err(e) if e.error_len().is_some() => return Err(Utf8Error),
                Err(_) => {}
            }
        }
        match std::str::from_utf8(bytes) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_some() => Err(Utf8Error),
            Err(e) => {
                let rest = &bytes[e.valid_up_to()..];
                self.pending[..rest.len()].copy_from_slice(rest);
                self.n = rest.len();
                Ok(())
            }
        }
    }
    pub fn is_complete(&self) -> bool {
        self.n == 0
    }
    pub fn reset(&mut self) {
        self.n = 0;
    }
}
pub fn is_valid(b: &[u8]) -> bool {
    std::str::from_utf8(b).is_ok()
}
pub(crate) fn from_validated(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or("")
}
