//! Secrets Manager over the AWS SDK.
//!
//! This is the only module that talks to the SDK, and the only async code in smcache:
//! a current-thread tokio runtime is built when the first call is needed and dropped
//! with the client, so a cache hit never loads AWS configuration, resolves credentials
//! or starts a runtime.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_secretsmanager::config::{ConfigBag, Intercept, Region, RuntimeComponents};
use aws_sdk_secretsmanager::error::{
    BoxError, DisplayErrorContext, ProvideErrorMetadata, SdkError,
};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

use crate::secret::{SecretBytes, SecretValue};

const USER_AGENT: &str = concat!("smcache/", env!("CARGO_PKG_VERSION"));
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where to send requests, as the user chose it; unset fields come from the SDK's
/// default chain (environment, profile).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsSettings {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint: Option<String>,
}

/// A failed call: the AWS error code (or smcache's name for a failure that never reached
/// AWS), its message, and whether it may pass by itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AwsError {
    pub code: String,
    pub message: String,
    /// Network, timeout, 5xx and throttling: a cached value may still be served.
    pub transient: bool,
    /// A problem of this machine's setup (no region, no credentials), not of the secret:
    /// never remembered in the cache, and never a reason to drop cached values.
    pub local: bool,
}

impl AwsError {
    fn local(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            transient: true,
            local: true,
        }
    }
}

/// What DescribeSecret says about a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    pub arn: Option<String>,
    pub name: Option<String>,
    /// Stage -> version id.
    pub stages: BTreeMap<String, String>,
}

/// One version fetched with GetSecretValue or BatchGetSecretValue.
#[derive(Debug)]
pub struct Fetched {
    pub arn: Option<String>,
    pub name: Option<String>,
    pub version_id: String,
    pub stages: Vec<String>,
    pub created_date: Option<String>,
    pub value: SecretValue,
}

/// What a batch call returned: the versions fetched, and the failures per secret id.
pub type BatchOutcome = (Vec<Fetched>, Vec<(String, AwsError)>);

/// A connected client with its own runtime.
pub struct Aws {
    runtime: tokio::runtime::Runtime,
    client: Client,
    region: Option<String>,
}

impl Aws {
    /// Loads configuration and credentials providers and builds the client.
    pub fn connect(settings: &AwsSettings) -> Result<Self, AwsError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|err| AwsError::local("RuntimeError", err.to_string()))?;
        let config = runtime.block_on(load_config(settings));
        let region = config.region().map(ToString::to_string);
        if region.is_none() {
            return Err(AwsError::local(
                "NoRegion",
                "no AWS region is set (use --region, AWS_REGION or a profile's region)",
            ));
        }
        let client_config = aws_sdk_secretsmanager::config::Builder::from(&config)
            .interceptor(UserAgent)
            .build();
        Ok(Self {
            runtime,
            client: Client::from_conf(client_config),
            region,
        })
    }

    /// The region requests go to.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    #[tracing::instrument(skip_all)]
    pub fn describe(&self, secret_id: &str) -> Result<Description, AwsError> {
        tracing::debug!("DescribeSecret");
        let out = self
            .runtime
            .block_on(self.client.describe_secret().secret_id(secret_id).send())
            .map_err(|err| classify(&err))?;
        if out.deleted_date().is_some() {
            return Err(AwsError {
                code: "InvalidRequestException".into(),
                message: "the secret is scheduled for deletion".into(),
                transient: false,
                local: false,
            });
        }
        let mut stages = BTreeMap::new();
        for (version_id, version_stages) in out.version_ids_to_stages().into_iter().flatten() {
            for stage in version_stages {
                stages.insert(stage.clone(), version_id.clone());
            }
        }
        Ok(Description {
            arn: out.arn().map(str::to_owned),
            name: out.name().map(str::to_owned),
            stages,
        })
    }

    /// GetSecretValue of one version, by id.
    pub fn value(&self, secret_id: &str, version_id: &str) -> Result<Fetched, AwsError> {
        self.get_value(secret_id, Some(version_id), None)
    }

    /// GetSecretValue of the version carrying `stage`.
    pub fn value_by_stage(&self, secret_id: &str, stage: &str) -> Result<Fetched, AwsError> {
        self.get_value(secret_id, None, Some(stage))
    }

    #[tracing::instrument(skip_all)]
    fn get_value(
        &self,
        secret_id: &str,
        version_id: Option<&str>,
        stage: Option<&str>,
    ) -> Result<Fetched, AwsError> {
        tracing::debug!("GetSecretValue");
        let request = self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .set_version_id(version_id.map(str::to_owned))
            .set_version_stage(stage.map(str::to_owned));
        let mut out = self
            .runtime
            .block_on(request.send())
            .map_err(|err| classify(&err))?;
        let value = take_value(out.secret_string.take(), out.secret_binary.take())?;
        Ok(Fetched {
            arn: out.arn,
            name: out.name,
            version_id: out.version_id.unwrap_or_default(),
            stages: out.version_stages.unwrap_or_default(),
            created_date: out.created_date.map(|d| d.to_string()),
            value,
        })
    }

    /// BatchGetSecretValue of the current versions of up to 20 secrets. The outer error
    /// is the call's; the inner ones are per secret id.
    #[tracing::instrument(skip_all, fields(count = secret_ids.len()))]
    pub fn batch(&self, secret_ids: &[String]) -> Result<BatchOutcome, AwsError> {
        tracing::debug!("BatchGetSecretValue");
        let request = self
            .client
            .batch_get_secret_value()
            .set_secret_id_list(Some(secret_ids.to_vec()));
        let out = self
            .runtime
            .block_on(request.send())
            .map_err(|err| classify(&err))?;
        let errors = out
            .errors()
            .iter()
            .map(|e| {
                let code = e.error_code().unwrap_or("UnknownError").to_owned();
                let transient = is_transient_code(&code);
                let message = e.message().unwrap_or_default().to_owned();
                (
                    e.secret_id().unwrap_or_default().to_owned(),
                    AwsError {
                        code,
                        message,
                        transient,
                        local: false,
                    },
                )
            })
            .collect();
        let mut fetched = Vec::new();
        for entry in out.secret_values.unwrap_or_default() {
            let value = take_value(entry.secret_string, entry.secret_binary)?;
            fetched.push(Fetched {
                arn: entry.arn,
                name: entry.name,
                version_id: entry.version_id.unwrap_or_default(),
                stages: entry.version_stages.unwrap_or_default(),
                created_date: entry.created_date.map(|d| d.to_string()),
                value,
            });
        }
        Ok((fetched, errors))
    }
}

async fn load_config(settings: &AwsSettings) -> aws_config::SdkConfig {
    // One TLS stack: rustls with ring, instead of the SDK's default aws-lc build.
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .build();
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client)
        .timeout_config(timeouts);
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(endpoint) = &settings.endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

fn take_value(
    string: Option<String>,
    binary: Option<aws_sdk_secretsmanager::primitives::Blob>,
) -> Result<SecretValue, AwsError> {
    match (string, binary) {
        (Some(text), _) => Ok(SecretValue::String(SecretBytes::from_string(text))),
        (None, Some(blob)) => Ok(SecretValue::Binary(SecretBytes::new(blob.into_inner()))),
        (None, None) => Err(AwsError::local("EmptySecret", "the version has no value")),
    }
}

/// Error codes that may pass by themselves.
fn is_transient_code(code: &str) -> bool {
    matches!(
        code,
        "InternalServiceError"
            | "InternalFailure"
            | "ServiceUnavailable"
            | "ServiceUnavailableException"
            | "ThrottlingException"
            | "Throttling"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "RequestTimeout"
            | "RequestTimeoutException"
            | "ExpiredTokenException"
    )
}

fn classify<E>(err: &SdkError<E>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let chain = DisplayErrorContext(err).to_string();
    let mentions_credentials = chain.contains("credentials") || chain.contains("Credentials");
    match err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().unwrap_or("UnknownError").to_owned();
            let message = service.err().message().unwrap_or_default().to_owned();
            let transient = is_transient_code(&code) || status >= 500;
            AwsError {
                code,
                message,
                transient,
                local: false,
            }
        }
        _ if mentions_credentials => AwsError::local(
            "CredentialsError",
            format!("no usable AWS credentials: {}", innermost_cause(err)),
        ),
        SdkError::TimeoutError(_) => transient("Timeout", "the request timed out"),
        SdkError::DispatchFailure(failure) if failure.is_timeout() => {
            transient("Timeout", "the request timed out")
        }
        SdkError::DispatchFailure(_) => transient("NetworkError", innermost_cause(err)),
        SdkError::ResponseError(_) => transient("ResponseError", innermost_cause(err)),
        _ => AwsError::local("RequestError", innermost_cause(err)),
    }
}

fn transient(code: &str, message: impl Into<String>) -> AwsError {
    AwsError {
        code: code.into(),
        message: message.into(),
        transient: true,
        local: false,
    }
}

/// The innermost cause of an error: the one that says what happened ("Connection
/// refused"), where the outer ones say in which layer.
fn innermost_cause(err: &dyn std::error::Error) -> String {
    let mut cause = err;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// Adds `smcache/<version>` to every request's user agent.
#[derive(Debug)]
struct UserAgent;

impl Intercept for UserAgent {
    fn name(&self) -> &'static str {
        "smcache user agent"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let headers = context.request_mut().headers_mut();
        let agent = match headers.get("user-agent") {
            Some(existing) => format!("{existing} {USER_AGENT}"),
            None => USER_AGENT.to_owned(),
        };
        headers.insert("user-agent", agent);
        Ok(())
    }
}
