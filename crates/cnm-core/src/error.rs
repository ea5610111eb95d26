use cnm_ipam::IpamError;

/// Controller errors. `Display` is the message users see (Docker's wording where Docker has one) and
/// `status()` the HTTP status Docker answers with.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Internal(String),
    #[error("{0}")]
    NotModified(String),
    #[error(transparent)]
    Ipam(#[from] IpamError),
    #[error(transparent)]
    Store(#[from] cnm_store::StoreError),
    #[error("{0}")]
    Driver(String),
}

impl CoreError {
    pub fn status(&self) -> u16 {
        match self {
            CoreError::NotFound(_) => 404,
            CoreError::Conflict(_) => 409,
            CoreError::Forbidden(_) => 403,
            CoreError::BadRequest(_) => 400,
            CoreError::NotModified(_) => 304,
            CoreError::Ipam(e) => e.http_status(),
            CoreError::Internal(_) | CoreError::Store(_) | CoreError::Driver(_) => 500,
        }
    }

    pub fn network_not_found(r: &str) -> Self {
        CoreError::NotFound(format!("network {r} not found"))
    }

    pub fn container_not_found(r: &str) -> Self {
        CoreError::NotFound(format!("No such container: {r}"))
    }
}

pub type Result<T> = std::result::Result<T, CoreError>;
