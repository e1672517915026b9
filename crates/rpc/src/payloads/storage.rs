//! Storage pool and volume payloads (`virsh pool-*`, `vol-*`), re-exported
//! from [`crate::payloads`]. `STORAGE_POOL_GET_INFO`'s `unsigned char state`
//! and `STORAGE_VOL_GET_INFO`'s `char type` take 4 bytes each.

use crate::types::{
    NonnullStoragePool, NonnullStorageVol, Uuid, STORAGE_POOL_LIST_MAX, STORAGE_VOL_LIST_MAX,
};
use crate::xdr::VarArray;
use crate::xdr_struct;

/// Declares payload structs holding one `remote_nonnull_storage_pool pool`.
macro_rules! pool_only {
    ($($name:ident $wire:literal),* $(,)?) => {
        $(
            xdr_struct! {
                #[doc = concat!("`", $wire, "`.")]
                #[derive(Debug, Clone, PartialEq, Eq)]
                pub struct $name($wire) {
                    /// The pool.
                    pub pool: NonnullStoragePool,
                }
            }
        )*
    };
}

/// Declares payload structs `{ remote_nonnull_storage_pool pool; unsigned int flags; }`.
macro_rules! pool_flags {
    ($($name:ident $wire:literal),* $(,)?) => {
        $(
            xdr_struct! {
                #[doc = concat!("`", $wire, "`.")]
                #[derive(Debug, Clone, PartialEq, Eq)]
                pub struct $name($wire) {
                    /// The pool.
                    pub pool: NonnullStoragePool,
                    /// Procedure-specific flags.
                    pub flags: u32,
                }
            }
        )*
    };
}

/// Declares payload structs holding one `remote_nonnull_storage_vol vol`.
macro_rules! vol_only {
    ($($name:ident $wire:literal),* $(,)?) => {
        $(
            xdr_struct! {
                #[doc = concat!("`", $wire, "`.")]
                #[derive(Debug, Clone, PartialEq, Eq)]
                pub struct $name($wire) {
                    /// The volume.
                    pub vol: NonnullStorageVol,
                }
            }
        )*
    };
}

/// Declares payload structs `{ remote_nonnull_storage_vol vol; unsigned int flags; }`.
macro_rules! vol_flags {
    ($($name:ident $wire:literal),* $(,)?) => {
        $(
            xdr_struct! {
                #[doc = concat!("`", $wire, "`.")]
                #[derive(Debug, Clone, PartialEq, Eq)]
                pub struct $name($wire) {
                    /// The volume.
                    pub vol: NonnullStorageVol,
                    /// Procedure-specific flags.
                    pub flags: u32,
                }
            }
        )*
    };
}

/// Declares payload structs with one field of the given type.
macro_rules! single {
    ($($name:ident $wire:literal $field:ident: $ty:ty),* $(,)?) => {
        $(
            xdr_struct! {
                #[doc = concat!("`", $wire, "`.")]
                #[derive(Debug, Clone, PartialEq, Eq)]
                pub struct $name($wire) {
                    #[doc = concat!("`", stringify!($field), "`.")]
                    pub $field: $ty,
                }
            }
        )*
    };
}

single! {
    ConnectNumOfStoragePoolsRet "remote_connect_num_of_storage_pools_ret" num: i32,
    ConnectNumOfDefinedStoragePoolsRet "remote_connect_num_of_defined_storage_pools_ret" num: i32,
    ConnectListStoragePoolsArgs "remote_connect_list_storage_pools_args" maxnames: i32,
    ConnectListDefinedStoragePoolsArgs "remote_connect_list_defined_storage_pools_args" maxnames: i32,
    StoragePoolLookupByNameArgs "remote_storage_pool_lookup_by_name_args" name: String,
    StoragePoolLookupByUuidArgs "remote_storage_pool_lookup_by_uuid_args" uuid: Uuid,
    StoragePoolLookupByVolumeArgs "remote_storage_pool_lookup_by_volume_args" vol: NonnullStorageVol,
    StoragePoolGetXmlDescRet "remote_storage_pool_get_xml_desc_ret" xml: String,
    StoragePoolGetAutostartRet "remote_storage_pool_get_autostart_ret" autostart: i32,
    StoragePoolNumOfVolumesRet "remote_storage_pool_num_of_volumes_ret" num: i32,
    StoragePoolIsActiveRet "remote_storage_pool_is_active_ret" active: i32,
    StoragePoolIsPersistentRet "remote_storage_pool_is_persistent_ret" persistent: i32,
    StorageVolLookupByKeyArgs "remote_storage_vol_lookup_by_key_args" key: String,
    StorageVolLookupByPathArgs "remote_storage_vol_lookup_by_path_args" path: String,
    StorageVolGetXmlDescRet "remote_storage_vol_get_xml_desc_ret" xml: String,
    StorageVolGetPathRet "remote_storage_vol_get_path_ret" name: String,
    StoragePoolLookupByNameRet "remote_storage_pool_lookup_by_name_ret" pool: NonnullStoragePool,
    StoragePoolLookupByUuidRet "remote_storage_pool_lookup_by_uuid_ret" pool: NonnullStoragePool,
    StoragePoolLookupByVolumeRet "remote_storage_pool_lookup_by_volume_ret" pool: NonnullStoragePool,
    StoragePoolCreateXmlRet "remote_storage_pool_create_xml_ret" pool: NonnullStoragePool,
    StoragePoolDefineXmlRet "remote_storage_pool_define_xml_ret" pool: NonnullStoragePool,
    StorageVolCreateXmlRet "remote_storage_vol_create_xml_ret" vol: NonnullStorageVol,
    StorageVolLookupByNameRet "remote_storage_vol_lookup_by_name_ret" vol: NonnullStorageVol,
    StorageVolLookupByKeyRet "remote_storage_vol_lookup_by_key_ret" vol: NonnullStorageVol,
    StorageVolLookupByPathRet "remote_storage_vol_lookup_by_path_ret" vol: NonnullStorageVol,
}

pool_only! {
    StoragePoolDestroyArgs "remote_storage_pool_destroy_args",
    StoragePoolUndefineArgs "remote_storage_pool_undefine_args",
    StoragePoolGetInfoArgs "remote_storage_pool_get_info_args",
    StoragePoolGetAutostartArgs "remote_storage_pool_get_autostart_args",
    StoragePoolNumOfVolumesArgs "remote_storage_pool_num_of_volumes_args",
    StoragePoolIsActiveArgs "remote_storage_pool_is_active_args",
    StoragePoolIsPersistentArgs "remote_storage_pool_is_persistent_args",
}

pool_flags! {
    StoragePoolCreateArgs "remote_storage_pool_create_args",
    StoragePoolBuildArgs "remote_storage_pool_build_args",
    StoragePoolDeleteArgs "remote_storage_pool_delete_args",
    StoragePoolRefreshArgs "remote_storage_pool_refresh_args",
    StoragePoolGetXmlDescArgs "remote_storage_pool_get_xml_desc_args",
}

vol_only! {
    StorageVolGetInfoArgs "remote_storage_vol_get_info_args",
    StorageVolGetPathArgs "remote_storage_vol_get_path_args",
}

vol_flags! {
    StorageVolDeleteArgs "remote_storage_vol_delete_args",
    StorageVolGetXmlDescArgs "remote_storage_vol_get_xml_desc_args",
    StorageVolWipeArgs "remote_storage_vol_wipe_args",
    StorageVolGetInfoFlagsArgs "remote_storage_vol_get_info_flags_args",
}

single! {
    StoragePoolLookupByTargetPathArgs "remote_storage_pool_lookup_by_target_path_args" path: String,
    StoragePoolLookupByTargetPathRet "remote_storage_pool_lookup_by_target_path_ret" pool: NonnullStoragePool,
    StorageVolCreateXmlFromRet "remote_storage_vol_create_xml_from_ret" vol: NonnullStorageVol,
}

xdr_struct! {
    /// `remote_storage_vol_create_xml_from_args`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct StorageVolCreateXmlFromArgs("remote_storage_vol_create_xml_from_args") {
        /// The pool to create it in.
        pub pool: NonnullStoragePool,
        /// Volume XML of the new volume.
        pub xml: String,
        /// The volume to copy.
        pub clonevol: NonnullStorageVol,
        /// `VIR_STORAGE_VOL_CREATE_*` flags.
        pub flags: u32,
    }
}

xdr_struct! {
    /// `remote_storage_vol_upload_args` (also `_download_args`): the stream that follows carries
    /// the bytes.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct StorageVolUploadArgs("remote_storage_vol_upload_args") {
        /// The volume.
        pub vol: NonnullStorageVol,
        /// First byte of the volume to write (or read).
        pub offset: u64,
        /// Bytes to transfer; 0 means up to the end of the volume.
        pub length: u64,
        /// `VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM` (or `_DOWNLOAD_`).
        pub flags: u32,
    }
}

xdr_struct! {
    /// `remote_storage_vol_resize_args`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct StorageVolResizeArgs("remote_storage_vol_resize_args") {
        /// The volume.
        pub vol: NonnullStorageVol,
        /// New capacity (or delta) in bytes.
        pub capacity: u64,
        /// `VIR_STORAGE_VOL_RESIZE_*` flags.
        pub flags: u32,
    }
}

xdr_struct! {
    /// `remote_connect_list_storage_pools_ret` (also the `_defined_` one).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ConnectListStoragePoolsRet("remote_connect_list_storage_pools_ret") {
        /// Pool names.
        pub names: Vec<String> [VarArray(STORAGE_POOL_LIST_MAX)],
    }
}

xdr_struct! {
    /// `remote_storage_pool_create_xml_args` (also `_define_xml_args`).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct StoragePoolDefineXmlArgs("remote_storage_pool_define_xml_args") {
        /// Pool XML.
        pub xml: String,
        /// Procedure-specific flags.
        pub flags: u32,
    }
}

xdr_struct! {
    /// `remote_storage_pool_get_info_ret`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct StoragePoolGetInfoRet("remote_storage_pool_get_info_ret") {
        /// `unsigned char state` (`virStoragePoolState`), 4 bytes on the wire.
        pub state: u8,
        /// Capacity in bytes.
        pub capacity: u64,
        /// Allocation in bytes.
        pub allocation: u64,
        /// Available bytes.
        pub available: u64,
    }
}

xdr_struct! {
    /// `remote_storage_pool_set_autostart_args`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct StoragePoolSetAutostartArgs("remote_storage_pool_set_autostart_args") {
        /// The pool.
        pub pool: NonnullStoragePool,
        /// 1 to enable, 0 to disable.
        pub autostart: i32,
    }
}

xdr_struct! {
    /// `remote_storage_pool_list_volumes_args`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct StoragePoolListVolumesArgs("remote_storage_pool_list_volumes_args") {
        /// The pool.
        pub pool: NonnullStoragePool,
        /// Names the caller can take.
        pub maxnames: i32,
    }
}

xdr_struct! {
    /// `remote_storage_pool_list_volumes_ret`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct StoragePoolListVolumesRet("remote_storage_pool_list_volumes_ret") {
        /// Volume names.
        pub names: Vec<String> [VarArray(STORAGE_VOL_LIST_MAX)],
    }
}

xdr_struct! {
    /// `remote_storage_vol_create_xml_args`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct StorageVolCreateXmlArgs("remote_storage_vol_create_xml_args") {
        /// The pool to create it in.
        pub pool: NonnullStoragePool,
        /// Volume XML.
        pub xml: String,
        /// `VIR_STORAGE_VOL_CREATE_*` flags.
        pub flags: u32,
    }
}

xdr_struct! {
    /// `remote_storage_vol_lookup_by_name_args`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct StorageVolLookupByNameArgs("remote_storage_vol_lookup_by_name_args") {
        /// The pool.
        pub pool: NonnullStoragePool,
        /// Volume name.
        pub name: String,
    }
}

xdr_struct! {
    /// `remote_storage_vol_get_info_ret`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct StorageVolGetInfoRet("remote_storage_vol_get_info_ret") {
        /// `char type` (`virStorageVolType`), 4 bytes on the wire.
        pub vol_type: i8,
        /// Capacity in bytes.
        pub capacity: u64,
        /// Allocation in bytes.
        pub allocation: u64,
    }
}

xdr_struct! {
    /// `remote_connect_list_all_storage_pools_args`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct ConnectListAllStoragePoolsArgs("remote_connect_list_all_storage_pools_args") {
        /// 0: only count; otherwise also return the pools.
        pub need_results: i32,
        /// `VIR_CONNECT_LIST_STORAGE_POOLS_*` filter bits.
        pub flags: u32,
    }
}

xdr_struct! {
    /// `remote_connect_list_all_storage_pools_ret`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ConnectListAllStoragePoolsRet("remote_connect_list_all_storage_pools_ret") {
        /// The pools (empty when `need_results` was 0).
        pub pools: Vec<NonnullStoragePool> [VarArray(STORAGE_POOL_LIST_MAX)],
        /// The count.
        pub ret: u32,
    }
}

xdr_struct! {
    /// `remote_storage_pool_list_all_volumes_args`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct StoragePoolListAllVolumesArgs("remote_storage_pool_list_all_volumes_args") {
        /// The pool.
        pub pool: NonnullStoragePool,
        /// 0: only count; otherwise also return the volumes.
        pub need_results: i32,
        /// Must be 0.
        pub flags: u32,
    }
}

xdr_struct! {
    /// `remote_storage_pool_list_all_volumes_ret`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct StoragePoolListAllVolumesRet("remote_storage_pool_list_all_volumes_ret") {
        /// The volumes (empty when `need_results` was 0).
        pub vols: Vec<NonnullStorageVol> [VarArray(STORAGE_VOL_LIST_MAX)],
        /// The count.
        pub ret: u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xdr::{from_bytes, to_bytes};

    #[test]
    fn volume_layout_matches_the_observation() {
        let vol = StorageVolGetPathArgs {
            vol: NonnullStorageVol {
                pool: "default-pool".into(),
                name: "v1.img".into(),
                key: "/default-pool/v1.img".into(),
            },
        };
        let bytes = to_bytes(&vol).unwrap();
        assert_eq!(bytes.len(), (4 + 12) + (4 + 8) + (4 + 20));
        assert_eq!(from_bytes::<StorageVolGetPathArgs>(&bytes).unwrap(), vol);
    }

    #[test]
    fn pool_and_volume_info_use_four_byte_small_ints() {
        let pool = StoragePoolGetInfoRet {
            state: 2,
            capacity: 1,
            allocation: 2,
            available: 3,
        };
        assert_eq!(to_bytes(&pool).unwrap().len(), 4 + 3 * 8);
        let vol = StorageVolGetInfoRet {
            vol_type: 0,
            capacity: 1,
            allocation: 1,
        };
        let bytes = to_bytes(&vol).unwrap();
        assert_eq!(bytes.len(), 4 + 2 * 8);
        assert_eq!(from_bytes::<StorageVolGetInfoRet>(&bytes).unwrap(), vol);
    }

    #[test]
    fn pool_list_is_bounded_by_the_pool_limit() {
        let mut bytes = (STORAGE_POOL_LIST_MAX + 1).to_be_bytes().to_vec();
        bytes.extend_from_slice(&[0; 8]);
        let err = from_bytes::<ConnectListAllStoragePoolsRet>(&bytes).unwrap_err();
        assert_eq!(
            err.path(),
            "remote_connect_list_all_storage_pools_ret.pools"
        );
    }
}
