//! Codecs for fields whose Rust type alone does not say the wire form.

use super::{Codec, Decoder, Encoder, XdrDecode, XdrEncode, XdrError};

/// `T x<MAX>` for a `Vec<T>` field.
#[derive(Debug, Clone, Copy)]
pub struct VarArray(pub u32);

impl<T: XdrEncode + XdrDecode> Codec<Vec<T>> for VarArray {
    fn encode(&self, value: &Vec<T>, enc: &mut Encoder) -> Result<(), XdrError> {
        enc.put_array(value, self.0)
    }
    fn decode(&self, dec: &mut Decoder<'_>) -> Result<Vec<T>, XdrError> {
        dec.array(self.0)
    }
}

/// `opaque x<MAX>` for a `Vec<u8>` field.
#[derive(Debug, Clone, Copy)]
pub struct VarOpaque(pub u32);

impl Codec<Vec<u8>> for VarOpaque {
    fn encode(&self, value: &Vec<u8>, enc: &mut Encoder) -> Result<(), XdrError> {
        enc.put_opaque(value, self.0)
    }
    fn decode(&self, dec: &mut Decoder<'_>) -> Result<Vec<u8>, XdrError> {
        dec.opaque(self.0)
    }
}

/// `char x<MAX>` for a `Vec<u8>` field: 4 bytes per byte.
#[derive(Debug, Clone, Copy)]
pub struct VarChars(pub u32);

impl Codec<Vec<u8>> for VarChars {
    fn encode(&self, value: &Vec<u8>, enc: &mut Encoder) -> Result<(), XdrError> {
        enc.put_chars(value, self.0)
    }
    fn decode(&self, dec: &mut Decoder<'_>) -> Result<Vec<u8>, XdrError> {
        dec.chars(self.0)
    }
}

/// `char x[N]` for a `[u8; N]` field: 4 bytes per byte.
#[derive(Debug, Clone, Copy)]
pub struct FixedChars;

impl<const N: usize> Codec<[u8; N]> for FixedChars {
    fn encode(&self, value: &[u8; N], enc: &mut Encoder) -> Result<(), XdrError> {
        enc.put_chars_fixed(value);
        Ok(())
    }
    fn decode(&self, dec: &mut Decoder<'_>) -> Result<[u8; N], XdrError> {
        let mut out = [0; N];
        dec.chars_into(&mut out)?;
        Ok(out)
    }
}

/// `string<MAX>` with a bound other than `REMOTE_STRING_MAX`.
#[derive(Debug, Clone, Copy)]
pub struct BoundedString(pub u32);

impl Codec<String> for BoundedString {
    fn encode(&self, value: &String, enc: &mut Encoder) -> Result<(), XdrError> {
        enc.put_string(value, self.0)
    }
    fn decode(&self, dec: &mut Decoder<'_>) -> Result<String, XdrError> {
        dec.string(self.0)
    }
}
