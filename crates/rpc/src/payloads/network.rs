//! Virtual network payloads (`virsh net-*`), re-exported from [`crate::payloads`].

use crate::types::{NonnullNetwork, Uuid, NETWORK_DHCP_LEASES_MAX, NETWORK_LIST_MAX};
use crate::xdr::VarArray;
use crate::xdr_struct;

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
    ConnectNumOfNetworksRet "remote_connect_num_of_networks_ret" num: i32,
    ConnectNumOfDefinedNetworksRet "remote_connect_num_of_defined_networks_ret" num: i32,
    ConnectListNetworksArgs "remote_connect_list_networks_args" maxnames: i32,
    ConnectListDefinedNetworksArgs "remote_connect_list_defined_networks_args" maxnames: i32,
    NetworkLookupByNameArgs "remote_network_lookup_by_name_args" name: String,
    NetworkLookupByUuidArgs "remote_network_lookup_by_uuid_args" uuid: Uuid,
    NetworkLookupByNameRet "remote_network_lookup_by_name_ret" net: NonnullNetwork,
    NetworkLookupByUuidRet "remote_network_lookup_by_uuid_ret" net: NonnullNetwork,
    NetworkCreateXmlArgs "remote_network_create_xml_args" xml: String,
    NetworkCreateXmlRet "remote_network_create_xml_ret" net: NonnullNetwork,
    NetworkDefineXmlArgs "remote_network_define_xml_args" xml: String,
    NetworkDefineXmlRet "remote_network_define_xml_ret" net: NonnullNetwork,
    NetworkDefineXmlFlagsRet "remote_network_define_xml_flags_ret" net: NonnullNetwork,
    NetworkUndefineArgs "remote_network_undefine_args" net: NonnullNetwork,
    NetworkCreateArgs "remote_network_create_args" net: NonnullNetwork,
    NetworkDestroyArgs "remote_network_destroy_args" net: NonnullNetwork,
    NetworkGetXmlDescRet "remote_network_get_xml_desc_ret" xml: String,
    NetworkGetBridgeNameArgs "remote_network_get_bridge_name_args" net: NonnullNetwork,
    NetworkGetBridgeNameRet "remote_network_get_bridge_name_ret" name: String,
    NetworkGetAutostartArgs "remote_network_get_autostart_args" net: NonnullNetwork,
    NetworkGetAutostartRet "remote_network_get_autostart_ret" autostart: i32,
    NetworkIsActiveArgs "remote_network_is_active_args" net: NonnullNetwork,
    NetworkIsActiveRet "remote_network_is_active_ret" active: i32,
    NetworkIsPersistentArgs "remote_network_is_persistent_args" net: NonnullNetwork,
    NetworkIsPersistentRet "remote_network_is_persistent_ret" persistent: i32,
}

xdr_struct! {
    /// `remote_connect_list_networks_ret`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ConnectListNetworksRet("remote_connect_list_networks_ret") {
        /// Names of active networks.
        pub names: Vec<String> [VarArray(NETWORK_LIST_MAX)],
    }
}

xdr_struct! {
    /// `remote_connect_list_defined_networks_ret`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ConnectListDefinedNetworksRet("remote_connect_list_defined_networks_ret") {
        /// Names of inactive persistent networks.
        pub names: Vec<String> [VarArray(NETWORK_LIST_MAX)],
    }
}

xdr_struct! {
    /// `remote_network_define_xml_flags_args`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct NetworkDefineXmlFlagsArgs("remote_network_define_xml_flags_args") {
        /// The network XML.
        pub xml: String,
        /// `VIR_NETWORK_DEFINE_VALIDATE` (1) or 0.
        pub flags: u32,
    }
}

xdr_struct! {
    /// `remote_network_get_xml_desc_args`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct NetworkGetXmlDescArgs("remote_network_get_xml_desc_args") {
        /// The network.
        pub net: NonnullNetwork,
        /// `VIR_NETWORK_XML_INACTIVE` (1) or 0.
        pub flags: u32,
    }
}

xdr_struct! {
    /// `remote_network_set_autostart_args`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct NetworkSetAutostartArgs("remote_network_set_autostart_args") {
        /// The network.
        pub net: NonnullNetwork,
        /// 1 to start it with the daemon.
        pub autostart: i32,
    }
}

xdr_struct! {
    /// `remote_connect_list_all_networks_args`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ConnectListAllNetworksArgs("remote_connect_list_all_networks_args") {
        /// 0: only count.
        pub need_results: i32,
        /// `VIR_CONNECT_LIST_NETWORKS_*` filter bits.
        pub flags: u32,
    }
}

xdr_struct! {
    /// `remote_connect_list_all_networks_ret`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ConnectListAllNetworksRet("remote_connect_list_all_networks_ret") {
        /// The networks (empty when `need_results` was 0).
        pub nets: Vec<NonnullNetwork> [VarArray(NETWORK_LIST_MAX)],
        /// The count.
        pub ret: u32,
    }
}

xdr_struct! {
    /// `remote_network_get_dhcp_leases_args`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct NetworkGetDhcpLeasesArgs("remote_network_get_dhcp_leases_args") {
        /// The network.
        pub net: NonnullNetwork,
        /// Only this MAC's leases, if given.
        pub mac: Option<String>,
        /// 0: only count.
        pub need_results: i32,
        /// Must be 0.
        pub flags: u32,
    }
}

xdr_struct! {
    /// `remote_network_dhcp_lease`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct NetworkDhcpLease("remote_network_dhcp_lease") {
        /// The bridge.
        pub iface: String,
        /// Expiry, seconds since the epoch.
        pub expirytime: i64,
        /// `VIR_IP_ADDR_TYPE_IPV4` = 0.
        pub kind: i32,
        /// The client's MAC.
        pub mac: Option<String>,
        /// DHCPv6 IAID (none for IPv4).
        pub iaid: Option<String>,
        /// The leased address.
        pub ipaddr: String,
        /// Its prefix length.
        pub prefix: u32,
        /// The client's host name.
        pub hostname: Option<String>,
        /// The client id.
        pub clientid: Option<String>,
    }
}

xdr_struct! {
    /// `remote_network_get_dhcp_leases_ret`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct NetworkGetDhcpLeasesRet("remote_network_get_dhcp_leases_ret") {
        /// The leases (empty when `need_results` was 0).
        pub leases: Vec<NetworkDhcpLease> [VarArray(NETWORK_DHCP_LEASES_MAX)],
        /// The count.
        pub ret: u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xdr::{from_bytes, to_bytes};

    #[test]
    fn lease_round_trips() {
        let ret = NetworkGetDhcpLeasesRet {
            leases: vec![NetworkDhcpLease {
                iface: "moatbr0".into(),
                expirytime: 1_700_000_000,
                kind: 0,
                mac: Some("52:54:00:00:00:01".into()),
                iaid: None,
                ipaddr: "10.0.0.5".into(),
                prefix: 24,
                hostname: None,
                clientid: Some("01:52:54:00:00:00:01".into()),
            }],
            ret: 1,
        };
        let bytes = to_bytes(&ret).unwrap();
        assert_eq!(from_bytes::<NetworkGetDhcpLeasesRet>(&bytes).unwrap(), ret);
    }
}
