//! XDR (RFC 4506) as rpcgen produces it for libvirt.
//!
//! Every item is big-endian and occupies a multiple of 4 bytes:
//!
//! | XDR                                    | Rust                  | wire                                   |
//! |----------------------------------------|-----------------------|----------------------------------------|
//! | `int`, `unsigned int`, `enum`          | `i32`, `u32`          | 4 bytes                                |
//! | `bool`                                 | `bool`                | 4 bytes, 0 or 1                        |
//! | `hyper`, `unsigned hyper`              | `i64`, `u64`          | 8 bytes                                |
//! | `double`                               | `f64`                 | 8 bytes IEEE 754                       |
//! | `char`, `unsigned char`                | `i8`, `u8`            | **4 bytes** (sign- or zero-extended)   |
//! | `short`, `unsigned short`              | `i16`, `u16`          | **4 bytes**                            |
//! | `string<N>`                            | `String`              | u32 length, bytes, zero pad to 4       |
//! | `opaque x[N]`                          | newtype over `[u8; N]`| N bytes, zero pad to 4                 |
//! | `opaque x<N>`                          | `Vec<u8>` + [`VarOpaque`] | u32 length, bytes, zero pad to 4   |
//! | `T x<N>`                               | `Vec<T>` + [`VarArray`]   | u32 count, then the elements       |
//! | `T x[N]`                               | `[T; N]`              | N elements, no count                   |
//! | `T *`                                  | `Option<T>`           | u32 0 or 1, then T when 1              |
//!
//! `char x<N>` and `char x[N]` (security labels, the node CPU model) are byte
//! strings where every byte takes 4 bytes: use [`VarChars`] and [`FixedChars`].
//!
//! A plain `String` is `remote_nonnull_string`, bounded by
//! [`STRING_MAX`]; a different bound uses [`BoundedString`].
//!
//! Decoding never panics and never allocates more than the remaining input can
//! fill: every length prefix is checked against its declared maximum and
//! against the bytes left before anything is reserved. Padding must be zero.
//!
//! Structs are declared with [`xdr_struct!`](crate::xdr_struct), which writes
//! the struct and both trait impls, and names the struct and field in errors.

use thiserror::Error;

use crate::types::STRING_MAX;

mod codec;
mod macros;

pub use codec::{BoundedString, FixedChars, VarArray, VarChars, VarOpaque};

/// Why a value could not be encoded or decoded.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum XdrError {
    /// The input ended before the value did.
    #[error("input truncated: {needed} more bytes needed, {remaining} left")]
    Truncated {
        /// Bytes the next item needs.
        needed: usize,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// A string is longer than its declared maximum.
    #[error("string of {len} bytes exceeds its maximum of {max}")]
    StringTooLong {
        /// Length on the wire (or of the value being encoded).
        len: u64,
        /// Declared maximum.
        max: u32,
    },
    /// A variable-length opaque is longer than its declared maximum.
    #[error("opaque of {len} bytes exceeds its maximum of {max}")]
    OpaqueTooLong {
        /// Length on the wire (or of the value being encoded).
        len: u64,
        /// Declared maximum.
        max: u32,
    },
    /// A variable-length array has more elements than its declared maximum.
    #[error("array of {len} elements exceeds its maximum of {max}")]
    ArrayTooLong {
        /// Count on the wire (or of the value being encoded).
        len: u64,
        /// Declared maximum.
        max: u32,
    },
    /// A bool was neither 0 nor 1.
    #[error("invalid bool value {value}")]
    InvalidBool {
        /// The word found.
        value: u32,
    },
    /// The flag of an optional value (`T *`) was neither 0 nor 1.
    #[error("invalid optional-value flag {value}")]
    InvalidOptionalFlag {
        /// The word found.
        value: u32,
    },
    /// An enum or union discriminant had no known meaning.
    #[error("invalid value {value} for enum {name}")]
    InvalidEnum {
        /// The XDR enum's name.
        name: &'static str,
        /// The value found.
        value: i32,
    },
    /// A `char` or `short` word was outside the range of its C type.
    #[error("value {value} out of range for xdr {ty}")]
    OutOfRange {
        /// The XDR type (`char`, `unsigned short`, ...).
        ty: &'static str,
        /// The word found.
        value: i64,
    },
    /// Padding after a string or opaque was not zero.
    #[error("non-zero padding after a string or opaque")]
    NonZeroPadding,
    /// A string was not valid UTF-8.
    #[error("string is not valid utf-8")]
    InvalidUtf8 {
        /// Where the UTF-8 decoder stopped.
        #[source]
        source: std::str::Utf8Error,
    },
    /// Bytes were left over after the value was decoded.
    #[error("{count} trailing bytes after the value")]
    TrailingBytes {
        /// How many bytes were left.
        count: usize,
    },
    /// Encoding or decoding one field of a struct failed.
    #[error("field {field} of {ty}")]
    Field {
        /// The XDR struct name (e.g. `remote_nonnull_domain`).
        ty: &'static str,
        /// The field name.
        field: &'static str,
        /// What went wrong inside the field.
        #[source]
        source: Box<XdrError>,
    },
}

/// How bad an [`XdrError`] is for the connection it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdrErrorKind {
    /// A declared maximum was exceeded: a protocol violation. libvirt's
    /// peers never send this; the daemon closes the connection.
    LimitExceeded,
    /// The bytes do not form a value of the expected type. The daemon answers
    /// with an error reply and keeps the connection.
    Malformed,
}

impl XdrError {
    /// Wraps `self` as the failure of `field` in struct `ty`.
    pub fn in_field(self, ty: &'static str, field: &'static str) -> Self {
        Self::Field {
            ty,
            field,
            source: Box::new(self),
        }
    }

    /// The innermost error, below any [`XdrError::Field`] wrappers.
    pub fn root_cause(&self) -> &XdrError {
        let mut err = self;
        while let Self::Field { source, .. } = err {
            err = source;
        }
        err
    }

    /// The dotted path of struct fields down to the failure, e.g.
    /// `remote_error.dom.name`; empty when the failure is not inside a struct.
    pub fn path(&self) -> String {
        let mut path = String::new();
        let mut err = self;
        while let Self::Field { ty, field, source } = err {
            if path.is_empty() {
                path.push_str(ty);
            }
            path.push('.');
            path.push_str(field);
            err = source;
        }
        path
    }

    /// Whether this is a limit violation or a malformed value.
    pub fn kind(&self) -> XdrErrorKind {
        match self.root_cause() {
            Self::StringTooLong { .. } | Self::OpaqueTooLong { .. } | Self::ArrayTooLong { .. } => {
                XdrErrorKind::LimitExceeded
            }
            _ => XdrErrorKind::Malformed,
        }
    }
}

/// A value with an XDR encoding.
pub trait XdrEncode {
    /// Appends the encoding of `self`. Fails only when a bounded value is over
    /// its maximum.
    fn encode(&self, enc: &mut Encoder) -> Result<(), XdrError>;
}

/// A value that can be decoded from XDR.
pub trait XdrDecode: Sized {
    /// Reads one value from the decoder's current position.
    fn decode(dec: &mut Decoder<'_>) -> Result<Self, XdrError>;
}

/// An encoding for a field type that needs more than the type says: a bound
/// (`x<MAX>`) or a wire form other than the type's default (`char` arrays).
pub trait Codec<T> {
    /// Appends `value` in this encoding.
    fn encode(&self, value: &T, enc: &mut Encoder) -> Result<(), XdrError>;
    /// Reads a value in this encoding.
    fn decode(&self, dec: &mut Decoder<'_>) -> Result<T, XdrError>;
}

/// Encodes `value` into a fresh buffer.
pub fn to_bytes<T: XdrEncode + ?Sized>(value: &T) -> Result<Vec<u8>, XdrError> {
    let mut enc = Encoder::new();
    value.encode(&mut enc)?;
    Ok(enc.into_inner())
}

/// Decodes a `T` that must use all of `bytes`.
pub fn from_bytes<T: XdrDecode>(bytes: &[u8]) -> Result<T, XdrError> {
    let mut dec = Decoder::new(bytes);
    let value = T::decode(&mut dec)?;
    dec.finish()?;
    Ok(value)
}

fn pad_len(len: usize) -> usize {
    (4 - len % 4) % 4
}

fn len_u64(len: usize) -> u64 {
    u64::try_from(len).unwrap_or(u64::MAX)
}

/// Writes XDR into a growing buffer.
#[derive(Debug, Default)]
pub struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    /// An empty encoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// An encoder that appends to `buf`.
    pub fn from_vec(buf: Vec<u8>) -> Self {
        Self { buf }
    }

    /// The bytes written so far.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    /// Takes the buffer.
    pub fn into_inner(self) -> Vec<u8> {
        self.buf
    }

    /// `int`.
    pub fn put_i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// `unsigned int`.
    pub fn put_u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// `hyper`.
    pub fn put_i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// `unsigned hyper`.
    pub fn put_u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// `double`.
    pub fn put_f64(&mut self, v: f64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// `bool`.
    pub fn put_bool(&mut self, v: bool) {
        self.put_u32(u32::from(v));
    }

    /// `char`: sign-extended to 4 bytes, as `xdr_char` does where C `char`
    /// is signed (x86).
    pub fn put_char(&mut self, v: i8) {
        self.put_i32(i32::from(v));
    }

    /// `unsigned char`: zero-extended to 4 bytes.
    pub fn put_uchar(&mut self, v: u8) {
        self.put_u32(u32::from(v));
    }

    /// `short`: 4 bytes.
    pub fn put_short(&mut self, v: i16) {
        self.put_i32(i32::from(v));
    }

    /// `unsigned short`: 4 bytes.
    pub fn put_ushort(&mut self, v: u16) {
        self.put_u32(u32::from(v));
    }

    fn put_len(
        &mut self,
        len: usize,
        max: u32,
        too_long: fn(u64, u32) -> XdrError,
    ) -> Result<(), XdrError> {
        match u32::try_from(len) {
            Ok(n) if n <= max => {
                self.put_u32(n);
                Ok(())
            }
            _ => Err(too_long(len_u64(len), max)),
        }
    }

    fn put_padded(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        self.buf.extend_from_slice(&[0; 3][..pad_len(bytes.len())]);
    }

    /// `opaque x[N]`: the bytes and their padding, no length.
    pub fn put_opaque_fixed(&mut self, bytes: &[u8]) {
        self.put_padded(bytes);
    }

    /// `opaque x<max>`.
    pub fn put_opaque(&mut self, bytes: &[u8], max: u32) -> Result<(), XdrError> {
        self.put_len(bytes.len(), max, |len, max| XdrError::OpaqueTooLong {
            len,
            max,
        })?;
        self.put_padded(bytes);
        Ok(())
    }

    /// `string<max>`.
    pub fn put_string(&mut self, s: &str, max: u32) -> Result<(), XdrError> {
        self.put_len(s.len(), max, |len, max| XdrError::StringTooLong {
            len,
            max,
        })?;
        self.put_padded(s.as_bytes());
        Ok(())
    }

    /// `T x<max>`.
    pub fn put_array<T: XdrEncode>(&mut self, items: &[T], max: u32) -> Result<(), XdrError> {
        self.put_len(items.len(), max, |len, max| XdrError::ArrayTooLong {
            len,
            max,
        })?;
        items.iter().try_for_each(|item| item.encode(self))
    }

    /// `char x<max>`: a count, then each byte as a 4-byte `char`.
    pub fn put_chars(&mut self, bytes: &[u8], max: u32) -> Result<(), XdrError> {
        self.put_len(bytes.len(), max, |len, max| XdrError::ArrayTooLong {
            len,
            max,
        })?;
        self.put_chars_fixed(bytes);
        Ok(())
    }

    /// `char x[N]`: each byte as a 4-byte `char`, no count.
    pub fn put_chars_fixed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.put_char(i8::from_ne_bytes([b]));
        }
    }
}

/// Reads XDR from a byte slice.
#[derive(Debug, Clone)]
pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    /// A decoder at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Fails unless every byte was consumed.
    pub fn finish(&self) -> Result<(), XdrError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(XdrError::TrailingBytes { count }),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], XdrError> {
        let remaining = self.remaining();
        if n > remaining {
            return Err(XdrError::Truncated {
                needed: n,
                remaining,
            });
        }
        let bytes = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    fn word(&mut self) -> Result<[u8; 4], XdrError> {
        let mut w = [0; 4];
        w.copy_from_slice(self.take(4)?);
        Ok(w)
    }

    fn dword(&mut self) -> Result<[u8; 8], XdrError> {
        let mut w = [0; 8];
        w.copy_from_slice(self.take(8)?);
        Ok(w)
    }

    /// `int`.
    pub fn i32(&mut self) -> Result<i32, XdrError> {
        self.word().map(i32::from_be_bytes)
    }

    /// `unsigned int`.
    pub fn u32(&mut self) -> Result<u32, XdrError> {
        self.word().map(u32::from_be_bytes)
    }

    /// `hyper`.
    pub fn i64(&mut self) -> Result<i64, XdrError> {
        self.dword().map(i64::from_be_bytes)
    }

    /// `unsigned hyper`.
    pub fn u64(&mut self) -> Result<u64, XdrError> {
        self.dword().map(u64::from_be_bytes)
    }

    /// `double`.
    pub fn f64(&mut self) -> Result<f64, XdrError> {
        self.dword().map(f64::from_be_bytes)
    }

    /// `bool`: exactly 0 or 1.
    pub fn bool(&mut self) -> Result<bool, XdrError> {
        match self.u32()? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(XdrError::InvalidBool { value }),
        }
    }

    /// `char`. Accepts the sign-extended form (signed C `char`) and the
    /// zero-extended form (unsigned C `char`, as on arm64 peers).
    pub fn char(&mut self) -> Result<i8, XdrError> {
        let v = self.i32()?;
        if let Ok(c) = i8::try_from(v) {
            return Ok(c);
        }
        match u8::try_from(v) {
            Ok(b) => Ok(i8::from_ne_bytes([b])),
            Err(_) => Err(XdrError::OutOfRange {
                ty: "char",
                value: i64::from(v),
            }),
        }
    }

    /// `unsigned char`. Accepts 0..=255 and, for the same reason as
    /// [`Decoder::char`], the sign-extended form of 128..=255.
    pub fn uchar(&mut self) -> Result<u8, XdrError> {
        let v = self.i32()?;
        if let Ok(b) = u8::try_from(v) {
            return Ok(b);
        }
        match i8::try_from(v) {
            Ok(c) => Ok(c.to_ne_bytes()[0]),
            Err(_) => Err(XdrError::OutOfRange {
                ty: "unsigned char",
                value: i64::from(v),
            }),
        }
    }

    /// `short`.
    pub fn short(&mut self) -> Result<i16, XdrError> {
        let v = self.i32()?;
        i16::try_from(v).map_err(|_| XdrError::OutOfRange {
            ty: "short",
            value: i64::from(v),
        })
    }

    /// `unsigned short`.
    pub fn ushort(&mut self) -> Result<u16, XdrError> {
        let v = self.u32()?;
        u16::try_from(v).map_err(|_| XdrError::OutOfRange {
            ty: "unsigned short",
            value: i64::from(v),
        })
    }

    /// Reads a length prefix, checks it against `max`, and checks that
    /// `len * unit` bytes are present, before anything is allocated.
    fn len(
        &mut self,
        max: u32,
        unit: usize,
        too_long: fn(u64, u32) -> XdrError,
    ) -> Result<usize, XdrError> {
        let n = self.u32()?;
        if n > max {
            return Err(too_long(u64::from(n), max));
        }
        let len = usize::try_from(n).map_err(|_| too_long(u64::from(n), max))?;
        let needed = len.saturating_mul(unit);
        if needed > self.remaining() {
            return Err(XdrError::Truncated {
                needed,
                remaining: self.remaining(),
            });
        }
        Ok(len)
    }

    fn padded(&mut self, len: usize) -> Result<&'a [u8], XdrError> {
        let bytes = self.take(len)?;
        if self.take(pad_len(len))?.iter().any(|&b| b != 0) {
            return Err(XdrError::NonZeroPadding);
        }
        Ok(bytes)
    }

    /// `opaque x[N]` into `out` (N = `out.len()`).
    pub fn opaque_fixed_into(&mut self, out: &mut [u8]) -> Result<(), XdrError> {
        out.copy_from_slice(self.padded(out.len())?);
        Ok(())
    }

    /// `opaque x[N]`.
    pub fn opaque_fixed<const N: usize>(&mut self) -> Result<[u8; N], XdrError> {
        let mut out = [0; N];
        self.opaque_fixed_into(&mut out)?;
        Ok(out)
    }

    /// `opaque x<max>`.
    pub fn opaque(&mut self, max: u32) -> Result<Vec<u8>, XdrError> {
        let len = self.len(max, 1, |len, max| XdrError::OpaqueTooLong { len, max })?;
        Ok(self.padded(len)?.to_vec())
    }

    /// `string<max>`, which must be UTF-8.
    pub fn string(&mut self, max: u32) -> Result<String, XdrError> {
        let len = self.len(max, 1, |len, max| XdrError::StringTooLong { len, max })?;
        let bytes = self.padded(len)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|source| XdrError::InvalidUtf8 { source })
    }

    /// `T x<max>`. Each XDR item takes at least 4 bytes, so the count is
    /// checked against the bytes left before the vector is reserved.
    pub fn array<T: XdrDecode>(&mut self, max: u32) -> Result<Vec<T>, XdrError> {
        let n = self.u32()?;
        if n > max {
            return Err(XdrError::ArrayTooLong {
                len: u64::from(n),
                max,
            });
        }
        let n = usize::try_from(n).map_err(|_| XdrError::ArrayTooLong {
            len: u64::from(n),
            max,
        })?;
        let mut items = Vec::with_capacity(n.min(self.remaining() / 4));
        for _ in 0..n {
            items.push(T::decode(self)?);
        }
        Ok(items)
    }

    /// `char x<max>` as bytes.
    pub fn chars(&mut self, max: u32) -> Result<Vec<u8>, XdrError> {
        let len = self.len(max, 4, |len, max| XdrError::ArrayTooLong { len, max })?;
        let mut out = vec![0; len];
        self.chars_into(&mut out)?;
        Ok(out)
    }

    /// `char x[N]` into `out` (N = `out.len()`).
    pub fn chars_into(&mut self, out: &mut [u8]) -> Result<(), XdrError> {
        for b in out.iter_mut() {
            *b = self.char()?.to_ne_bytes()[0];
        }
        Ok(())
    }

    /// `T *`.
    pub fn option<T: XdrDecode>(&mut self) -> Result<Option<T>, XdrError> {
        match self.u32()? {
            0 => Ok(None),
            1 => T::decode(self).map(Some),
            value => Err(XdrError::InvalidOptionalFlag { value }),
        }
    }
}

macro_rules! primitive {
    ($ty:ty, $put:ident, $get:ident) => {
        impl XdrEncode for $ty {
            fn encode(&self, enc: &mut Encoder) -> Result<(), XdrError> {
                enc.$put(*self);
                Ok(())
            }
        }
        impl XdrDecode for $ty {
            fn decode(dec: &mut Decoder<'_>) -> Result<Self, XdrError> {
                dec.$get()
            }
        }
    };
}

primitive!(i32, put_i32, i32);
primitive!(u32, put_u32, u32);
primitive!(i64, put_i64, i64);
primitive!(u64, put_u64, u64);
primitive!(f64, put_f64, f64);
primitive!(bool, put_bool, bool);
primitive!(i8, put_char, char);
primitive!(u8, put_uchar, uchar);
primitive!(i16, put_short, short);
primitive!(u16, put_ushort, ushort);

/// `void`: nothing on the wire.
impl XdrEncode for () {
    fn encode(&self, _enc: &mut Encoder) -> Result<(), XdrError> {
        Ok(())
    }
}

impl XdrDecode for () {
    fn decode(_dec: &mut Decoder<'_>) -> Result<Self, XdrError> {
        Ok(())
    }
}

/// `remote_nonnull_string`: `string<REMOTE_STRING_MAX>`.
impl XdrEncode for String {
    fn encode(&self, enc: &mut Encoder) -> Result<(), XdrError> {
        enc.put_string(self, STRING_MAX)
    }
}

impl XdrEncode for str {
    fn encode(&self, enc: &mut Encoder) -> Result<(), XdrError> {
        enc.put_string(self, STRING_MAX)
    }
}

impl XdrDecode for String {
    fn decode(dec: &mut Decoder<'_>) -> Result<Self, XdrError> {
        dec.string(STRING_MAX)
    }
}

impl<T: XdrEncode> XdrEncode for Option<T> {
    fn encode(&self, enc: &mut Encoder) -> Result<(), XdrError> {
        match self {
            None => {
                enc.put_u32(0);
                Ok(())
            }
            Some(v) => {
                enc.put_u32(1);
                v.encode(enc)
            }
        }
    }
}

impl<T: XdrDecode> XdrDecode for Option<T> {
    fn decode(dec: &mut Decoder<'_>) -> Result<Self, XdrError> {
        dec.option()
    }
}

impl<T: XdrEncode + ?Sized> XdrEncode for &T {
    fn encode(&self, enc: &mut Encoder) -> Result<(), XdrError> {
        (**self).encode(enc)
    }
}

impl<T: XdrEncode + ?Sized> XdrEncode for Box<T> {
    fn encode(&self, enc: &mut Encoder) -> Result<(), XdrError> {
        (**self).encode(enc)
    }
}

impl<T: XdrDecode> XdrDecode for Box<T> {
    fn decode(dec: &mut Decoder<'_>) -> Result<Self, XdrError> {
        T::decode(dec).map(Box::new)
    }
}

/// `T x[N]`: a fixed array of XDR items (not `opaque`: `[u8; N]` here is N
/// `unsigned char`s of 4 bytes each; use a newtype for fixed opaque data).
impl<T: XdrEncode, const N: usize> XdrEncode for [T; N] {
    fn encode(&self, enc: &mut Encoder) -> Result<(), XdrError> {
        self.iter().try_for_each(|item| item.encode(enc))
    }
}

impl<T: XdrDecode, const N: usize> XdrDecode for [T; N] {
    fn decode(dec: &mut Decoder<'_>) -> Result<Self, XdrError> {
        // Decode into a Vec first: N is a compile-time bound, not input.
        let mut items = Vec::with_capacity(N);
        for _ in 0..N {
            items.push(T::decode(dec)?);
        }
        match items.try_into() {
            Ok(array) => Ok(array),
            Err(_) => unreachable!("exactly N items were pushed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip<T: XdrEncode + XdrDecode + PartialEq + std::fmt::Debug>(v: &T) -> Vec<u8> {
        let bytes = to_bytes(v).unwrap();
        assert_eq!(bytes.len() % 4, 0, "xdr items are multiples of 4 bytes");
        let back: T = from_bytes(&bytes).unwrap();
        assert_eq!(&back, v);
        bytes
    }

    proptest! {
        #[test]
        fn int_round_trips(v: i32) { prop_assert_eq!(round_trip(&v), v.to_be_bytes().to_vec()); }
        #[test]
        fn uint_round_trips(v: u32) { prop_assert_eq!(round_trip(&v), v.to_be_bytes().to_vec()); }
        #[test]
        fn hyper_round_trips(v: i64) { prop_assert_eq!(round_trip(&v), v.to_be_bytes().to_vec()); }
        #[test]
        fn uhyper_round_trips(v: u64) { prop_assert_eq!(round_trip(&v), v.to_be_bytes().to_vec()); }
        #[test]
        fn bool_round_trips(v: bool) { prop_assert_eq!(round_trip(&v).len(), 4); }
        #[test]
        fn double_round_trips(v in proptest::num::f64::NORMAL | proptest::num::f64::ZERO) {
            prop_assert_eq!(round_trip(&v).len(), 8);
        }
        #[test]
        fn char_takes_four_bytes(v: i8) {
            prop_assert_eq!(round_trip(&v), i32::from(v).to_be_bytes().to_vec());
        }
        #[test]
        fn uchar_takes_four_bytes(v: u8) {
            prop_assert_eq!(round_trip(&v), u32::from(v).to_be_bytes().to_vec());
        }
        #[test]
        fn short_takes_four_bytes(v: i16) {
            prop_assert_eq!(round_trip(&v), i32::from(v).to_be_bytes().to_vec());
        }
        #[test]
        fn ushort_takes_four_bytes(v: u16) {
            prop_assert_eq!(round_trip(&v), u32::from(v).to_be_bytes().to_vec());
        }
        #[test]
        fn string_round_trips(s in ".{0,64}") {
            let bytes = round_trip(&s);
            prop_assert_eq!(bytes.len(), 4 + s.len() + pad_len(s.len()));
        }
        #[test]
        fn optional_round_trips(v: Option<String>) { round_trip(&v); }
        #[test]
        fn fixed_array_round_trips(v: [i32; 5]) { prop_assert_eq!(round_trip(&v).len(), 20); }
        #[test]
        fn opaque_round_trips(v in proptest::collection::vec(any::<u8>(), 0..40)) {
            let mut enc = Encoder::new();
            enc.put_opaque(&v, 64).unwrap();
            let bytes = enc.into_inner();
            prop_assert_eq!(bytes.len(), 4 + v.len() + pad_len(v.len()));
            let mut dec = Decoder::new(&bytes);
            prop_assert_eq!(dec.opaque(64).unwrap(), v);
            dec.finish().unwrap();
        }
        #[test]
        fn fixed_opaque_round_trips(v: [u8; 7]) {
            let mut enc = Encoder::new();
            enc.put_opaque_fixed(&v);
            let bytes = enc.into_inner();
            prop_assert_eq!(bytes.len(), 8);
            let mut dec = Decoder::new(&bytes);
            prop_assert_eq!(dec.opaque_fixed::<7>().unwrap(), v);
        }
        #[test]
        fn chars_round_trip(v in proptest::collection::vec(any::<u8>(), 0..40)) {
            let mut enc = Encoder::new();
            enc.put_chars(&v, 64).unwrap();
            let bytes = enc.into_inner();
            prop_assert_eq!(bytes.len(), 4 + 4 * v.len());
            let mut dec = Decoder::new(&bytes);
            prop_assert_eq!(dec.chars(64).unwrap(), v);
        }
        #[test]
        fn array_round_trips(v in proptest::collection::vec(any::<u32>(), 0..40)) {
            let mut enc = Encoder::new();
            enc.put_array(&v, 64).unwrap();
            let bytes = enc.into_inner();
            let mut dec = Decoder::new(&bytes);
            prop_assert_eq!(dec.array::<u32>(64).unwrap(), v);
        }
        #[test]
        fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut dec = Decoder::new(&bytes);
            let _ = dec.string(16);
            let _ = dec.array::<Option<String>>(16);
            let _ = dec.chars(16);
            let _ = dec.opaque(16);
        }
    }

    #[test]
    fn char_accepts_both_extensions_of_a_high_byte() {
        let signed = Decoder::new(&[0xff, 0xff, 0xff, 0xe9]).char().unwrap();
        let unsigned = Decoder::new(&[0, 0, 0, 0xe9]).char().unwrap();
        assert_eq!(signed, unsigned);
        assert!(matches!(
            Decoder::new(&[0, 0, 1, 0]).char(),
            Err(XdrError::OutOfRange { ty: "char", .. })
        ));
        assert!(matches!(
            Decoder::new(&[0, 1, 0, 0]).ushort(),
            Err(XdrError::OutOfRange { .. })
        ));
    }

    #[test]
    fn chars_encode_high_bytes_sign_extended_like_x86_libvirt() {
        let mut enc = Encoder::new();
        enc.put_chars_fixed(&[b'i', 0xe9]);
        assert_eq!(enc.as_slice(), [0, 0, 0, 0x69, 0xff, 0xff, 0xff, 0xe9]);
    }

    #[test]
    fn string_layout_is_length_bytes_padding() {
        assert_eq!(
            to_bytes("demo1").unwrap(),
            [0, 0, 0, 5, b'd', b'e', b'm', b'o', b'1', 0, 0, 0]
        );
    }

    #[test]
    fn oversize_string_length_is_a_limit_error_without_allocating() {
        // A 4 GiB claim with nothing behind it.
        let err = Decoder::new(&[0xff, 0xff, 0xff, 0xff])
            .string(STRING_MAX)
            .unwrap_err();
        assert!(matches!(
            err,
            XdrError::StringTooLong {
                len: 0xffff_ffff,
                ..
            }
        ));
        assert_eq!(err.kind(), XdrErrorKind::LimitExceeded);
    }

    #[test]
    fn string_longer_than_input_is_truncated_not_allocated() {
        let err = Decoder::new(&[0, 0x3f, 0, 0])
            .string(STRING_MAX)
            .unwrap_err();
        assert!(matches!(
            err,
            XdrError::Truncated {
                needed: 0x3f_0000,
                remaining: 0
            }
        ));
        assert_eq!(err.kind(), XdrErrorKind::Malformed);
    }

    #[test]
    fn encoding_oversize_values_fails() {
        let mut enc = Encoder::new();
        assert!(matches!(
            enc.put_string("abcde", 4),
            Err(XdrError::StringTooLong { len: 5, max: 4 })
        ));
        assert!(matches!(
            enc.put_array(&[1u32, 2, 3], 2),
            Err(XdrError::ArrayTooLong { len: 3, max: 2 })
        ));
        assert!(matches!(
            enc.put_opaque(&[1, 2, 3], 2),
            Err(XdrError::OpaqueTooLong { len: 3, max: 2 })
        ));
    }

    #[test]
    fn array_count_over_max_is_a_limit_error() {
        let err = Decoder::new(&[0, 0, 0, 3, 0, 0, 0, 1])
            .array::<u32>(2)
            .unwrap_err();
        assert!(matches!(err, XdrError::ArrayTooLong { len: 3, max: 2 }));
        assert_eq!(err.kind(), XdrErrorKind::LimitExceeded);
    }

    #[test]
    fn huge_array_count_within_max_does_not_preallocate() {
        // 16384 claimed, 1 present: fails as truncated after one element.
        let err = Decoder::new(&[0, 0, 0x40, 0, 0, 0, 0, 1])
            .array::<u32>(16384)
            .unwrap_err();
        assert!(matches!(err, XdrError::Truncated { .. }));
    }

    #[test]
    fn non_zero_padding_is_malformed() {
        let err = Decoder::new(&[0, 0, 0, 1, b'a', 0, 1, 0])
            .string(8)
            .unwrap_err();
        assert!(matches!(err, XdrError::NonZeroPadding));
    }

    #[test]
    fn invalid_utf8_bool_and_optional_flag_are_malformed() {
        assert!(matches!(
            Decoder::new(&[0, 0, 0, 1, 0xff, 0, 0, 0]).string(8),
            Err(XdrError::InvalidUtf8 { .. })
        ));
        assert!(matches!(
            Decoder::new(&[0, 0, 0, 2]).bool(),
            Err(XdrError::InvalidBool { value: 2 })
        ));
        assert!(matches!(
            Decoder::new(&[0, 0, 0, 2]).option::<u32>(),
            Err(XdrError::InvalidOptionalFlag { value: 2 })
        ));
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let err = from_bytes::<u32>(&[0, 0, 0, 1, 0, 0, 0, 0]).unwrap_err();
        assert!(matches!(err, XdrError::TrailingBytes { count: 4 }));
    }

    crate::xdr_struct! {
        #[derive(Debug, PartialEq)]
        struct Inner("inner") {
            name: String,
        }
    }

    crate::xdr_struct! {
        #[derive(Debug, PartialEq)]
        struct Outer("outer") {
            id: i32,
            inner: Inner,
            tags: Vec<u32> [VarArray(2)],
        }
    }

    #[test]
    fn errors_name_the_struct_and_field_path() {
        let bytes = [0, 0, 0, 1, 0, 0, 0, 9];
        let err = from_bytes::<Outer>(&bytes).unwrap_err();
        assert_eq!(err.path(), "outer.inner.name");
        assert!(matches!(err.root_cause(), XdrError::Truncated { .. }));
        assert_eq!(err.to_string(), "field inner of outer");
    }

    #[test]
    fn struct_array_bound_is_enforced_on_encode() {
        let v = Outer {
            id: 1,
            inner: Inner { name: "x".into() },
            tags: vec![1, 2, 3],
        };
        let err = to_bytes(&v).unwrap_err();
        assert_eq!(err.path(), "outer.tags");
        assert_eq!(err.kind(), XdrErrorKind::LimitExceeded);
    }
}
