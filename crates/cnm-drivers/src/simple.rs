//! `host` and `null`: networks with no kernel objects of their own.

use std::path::Path;

use async_trait::async_trait;
use cnm_core::driver::{DriverResult, NetworkDriver};
use cnm_core::model::{EndpointRecord, NetworkRecord};

macro_rules! interfaceless_driver {
    ($ty:ident, $name:literal) => {
        /// A driver whose endpoints get no interface.
        pub struct $ty;

        #[async_trait]
        impl NetworkDriver for $ty {
            fn name(&self) -> &'static str {
                $name
            }
            fn singleton(&self) -> bool {
                true
            }
            fn needs_sandbox_iface(&self) -> bool {
                false
            }
            fn validate(
                &self,
                _net: &NetworkRecord,
                _others: &[&NetworkRecord],
            ) -> DriverResult<()> {
                Ok(())
            }
            async fn create_network(&self, _net: &mut NetworkRecord) -> DriverResult<()> {
                Ok(())
            }
            async fn delete_network(&self, _net: &NetworkRecord) -> DriverResult<()> {
                Ok(())
            }
            async fn join(
                &self,
                _n: &NetworkRecord,
                _e: &EndpointRecord,
                _ns: &Path,
            ) -> DriverResult<()> {
                Ok(())
            }
            async fn leave(
                &self,
                _n: &NetworkRecord,
                _e: &EndpointRecord,
                _ns: &Path,
                _g: bool,
            ) -> DriverResult<()> {
                Ok(())
            }
            async fn restore_network(&self, _net: &NetworkRecord) -> DriverResult<()> {
                Ok(())
            }
            async fn remove_strays(
                &self,
                _n: &[&NetworkRecord],
                _e: &[&EndpointRecord],
            ) -> DriverResult<Vec<String>> {
                Ok(Vec::new())
            }
        }
    };
}

interfaceless_driver!(HostDriver, "host");
interfaceless_driver!(NullDriver, "null");
