//! `xdr_struct!` and `xdr_enum!`, exported at the crate root.

/// Declares an XDR struct: the Rust struct, its [`XdrEncode`](crate::xdr::XdrEncode) and
/// [`XdrDecode`](crate::xdr::XdrDecode) impls, fields in wire order. A field whose type alone does
/// not say its wire form takes a [`Codec`](crate::xdr::Codec) in brackets after its type.
/// Errors name the struct (by the libvirt name given after it) and field.
///
/// ```
/// rpc::xdr_struct! {
///     /// `remote_example`
///     #[derive(Debug, Clone, PartialEq, Eq)]
///     pub struct Example("remote_example") {
///         /// a count
///         pub count: u32,
///         /// `char label<64>`
///         pub label: Vec<u8> [rpc::xdr::VarChars(64)],
///     }
/// }
/// let bytes = rpc::xdr::to_bytes(&Example { count: 1, label: b"a".to_vec() })?;
/// assert_eq!(bytes, [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, b'a']);
/// # Ok::<(), rpc::xdr::XdrError>(())
/// ```
#[macro_export]
macro_rules! xdr_struct {
    (@enc $enc:ident, $val:expr) => {
        $crate::xdr::XdrEncode::encode($val, $enc)
    };
    (@enc $enc:ident, $val:expr, $codec:expr) => {
        $crate::xdr::Codec::encode(&$codec, $val, $enc)
    };
    (@dec $dec:ident, $ty:ty) => {
        <$ty as $crate::xdr::XdrDecode>::decode($dec)
    };
    (@dec $dec:ident, $ty:ty, $codec:expr) => {
        $crate::xdr::Codec::<$ty>::decode(&$codec, $dec)
    };
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident ($wire:literal) {
            $(
                $(#[$fmeta:meta])*
                $fvis:vis $field:ident : $fty:ty $([$codec:expr])?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $(
                $(#[$fmeta])*
                $fvis $field: $fty,
            )*
        }

        impl $crate::xdr::XdrEncode for $name {
            #[allow(unused_variables)]
            fn encode(
                &self,
                enc: &mut $crate::xdr::Encoder,
            ) -> ::std::result::Result<(), $crate::xdr::XdrError> {
                $(
                    $crate::xdr_struct!(@enc enc, &self.$field $(, $codec)?)
                        .map_err(|e| e.in_field($wire, stringify!($field)))?;
                )*
                Ok(())
            }
        }

        impl $crate::xdr::XdrDecode for $name {
            #[allow(unused_variables)]
            fn decode(
                dec: &mut $crate::xdr::Decoder<'_>,
            ) -> ::std::result::Result<Self, $crate::xdr::XdrError> {
                Ok(Self {
                    $(
                        $field: $crate::xdr_struct!(@dec dec, $fty $(, $codec)?)
                            .map_err(|e| e.in_field($wire, stringify!($field)))?,
                    )*
                })
            }
        }
    };
}

/// Declares an XDR enum: a Rust enum with explicit `i32` discriminants,
/// encoded as `int`; unknown values fail to decode with
/// [`XdrError::InvalidEnum`](crate::xdr::XdrError::InvalidEnum).
#[macro_export]
macro_rules! xdr_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($wire:literal) {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $value:literal
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[repr(i32)]
        $vis enum $name {
            $(
                $(#[$vmeta])*
                $variant = $value,
            )*
        }

        impl $name {
            /// The value for wire word `value`, if it has one.
            pub fn from_i32(value: i32) -> ::std::option::Option<Self> {
                match value {
                    $( $value => Some(Self::$variant), )*
                    _ => None,
                }
            }

            /// The wire word.
            pub fn as_i32(self) -> i32 {
                self as i32
            }
        }

        impl $crate::xdr::XdrEncode for $name {
            fn encode(
                &self,
                enc: &mut $crate::xdr::Encoder,
            ) -> ::std::result::Result<(), $crate::xdr::XdrError> {
                enc.put_i32(*self as i32);
                Ok(())
            }
        }

        impl $crate::xdr::XdrDecode for $name {
            fn decode(
                dec: &mut $crate::xdr::Decoder<'_>,
            ) -> ::std::result::Result<Self, $crate::xdr::XdrError> {
                let value = dec.i32()?;
                Self::from_i32(value)
                    .ok_or($crate::xdr::XdrError::InvalidEnum { name: $wire, value })
            }
        }
    };
}
