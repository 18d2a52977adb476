//! Versioned, immutable service standards: create a version, get, list.

use std::sync::Arc;

use super::catalog::Catalog;
use super::clock::Clock;
use super::error::{ServiceError, ServiceResult};
use super::page_token;
use crate::convert::{InvalidArgument, Violations};
use crate::proto::v1 as pb;
use crate::storage::Store;

/// The standards service.
pub struct StandardsService {
    store: Arc<dyn Store>,
    catalog: Arc<Catalog>,
    clock: Arc<dyn Clock>,
}

impl StandardsService {
    /// The service over a store.
    pub fn new(store: Arc<dyn Store>, catalog: Arc<Catalog>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            catalog,
            clock,
        }
    }

    /// Validates and stores a new version.
    pub async fn create(&self, request: pb::CreateStandardRequest) -> ServiceResult<pb::Standard> {
        let mut standard = request
            .standard
            .ok_or_else(|| InvalidArgument::field("standard", "is required"))?;
        standard.version = 0;
        standard.create_time = None;
        crate::convert::standard::from_proto(&standard, "standard")?;
        let stored = self
            .store
            .create_standard(standard, self.clock.now())
            .await?;
        self.catalog.invalidate_standards();
        tracing::info!(standard_id = %stored.standard_id, version = stored.version, "standard version created");
        Ok(stored)
    }

    /// One version (0: the latest).
    pub async fn get(&self, request: pb::GetStandardRequest) -> ServiceResult<pb::Standard> {
        let mut violations = Violations::default();
        violations.check_name("standard_id", &request.standard_id);
        if request.version < 0 {
            violations.add("version", "must not be negative");
        }
        violations.into_result(())?;
        self.store
            .get_standard(&request.standard_id, request.version)
            .await?
            .ok_or_else(|| {
                ServiceError::NotFound(if request.version == 0 {
                    format!("standard {} does not exist", request.standard_id)
                } else {
                    format!(
                        "standard {} has no version {}",
                        request.standard_id, request.version
                    )
                })
            })
    }

    /// The latest version of each standard, or every version of one.
    pub async fn list(
        &self,
        request: pb::ListStandardsRequest,
    ) -> ServiceResult<pb::ListStandardsResponse> {
        let mut violations = Violations::default();
        if !request.standard_id.is_empty() {
            violations.check_name("standard_id", &request.standard_id);
        }
        violations.into_result(())?;
        let limit = page_token::page_size(request.page_size, 50, 1_000, "page_size")?;
        let fingerprint = format!("standards:{}", request.standard_id);
        let after = match page_token::decode(&fingerprint, &request.page_token, "page_token")? {
            None => None,
            Some(parts) => match parts.as_slice() {
                [id, version] => Some((
                    id.clone(),
                    version
                        .parse()
                        .map_err(|_| InvalidArgument::field("page_token", "is malformed"))?,
                )),
                _ => return Err(InvalidArgument::field("page_token", "is malformed").into()),
            },
        };
        let id = (!request.standard_id.is_empty()).then_some(request.standard_id.as_str());
        let mut standards = self.store.list_standards(id, after, limit + 1).await?;
        let next_page_token = if standards.len() > limit {
            standards.truncate(limit);
            let last = standards.last().expect("a full page");
            page_token::encode(
                &fingerprint,
                &[&last.standard_id, &last.version.to_string()],
            )
        } else {
            String::new()
        };
        Ok(pb::ListStandardsResponse {
            standards,
            next_page_token,
        })
    }
}
