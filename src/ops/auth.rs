//! Bearer-token authentication with scopes.
//!
//! The token file holds only SHA-256 hashes of the tokens, each with a name and its scopes:
//!
//! ```toml
//! [[token]]
//! name = "ingest-bot"
//! sha256 = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
//! scopes = ["ingest", "read"]
//! ```
//!
//! A call presents `authorization: Bearer <token>`; the token is hashed and compared with every
//! stored hash in constant time. No token or an unknown one is UNAUTHENTICATED; a known token
//! without the scope the method needs is PERMISSION_DENIED. Health and reflection are open.

use std::fmt;
use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tonic::Status;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Score and store interactions, amend them, preview scores.
    Ingest,
    /// Read scorecards, interactions, standards, teams, rollups; watch rollups.
    Read,
    /// Create standards, create and update teams, close days, verify rollups, erase
    /// customer data.
    Admin,
}

impl Scope {
    fn bit(self) -> u8 {
        match self {
            Scope::Ingest => 1,
            Scope::Read => 2,
            Scope::Admin => 4,
        }
    }

    /// The name used in the token file.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The scope a method (`/package.Service/Method`) needs; `None` for the open services (health
/// and reflection). Unknown servscore methods and unknown services need `admin`, so nothing
/// new is open by accident.
pub fn required_scope(path: &str) -> Option<Scope> {
    let (service, method) = path.trim_start_matches('/').split_once('/')?;
    Some(match service {
        "grpc.health.v1.Health"
        | "grpc.reflection.v1.ServerReflection"
        | "grpc.reflection.v1alpha.ServerReflection" => return None,
        "servscore.v1.ScoringService" => match method {
            "ScoreInteraction" | "IngestInteractions" | "AmendInteraction" | "PreviewScore" => {
                Scope::Ingest
            }
            "GetScorecard" | "ListScorecards" | "GetInteraction" => Scope::Read,
            _ => Scope::Admin,
        },
        "servscore.v1.StandardsService" | "servscore.v1.TeamsService" => match method {
            "GetStandard" | "ListStandards" | "GetTeam" | "ListTeams" => Scope::Read,
            _ => Scope::Admin,
        },
        "servscore.v1.PerformanceService" => match method {
            "GetStaffRollup" | "ListStaffRollups" | "GetTeamRollup" | "ListTeamRollups"
            | "GetDayClose" | "WatchRollups" | "GetLeaderboard" => Scope::Read,
            _ => Scope::Admin,
        },
        _ => Scope::Admin,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenFile {
    #[serde(default)]
    token: Vec<TokenEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    name: String,
    sha256: String,
    scopes: Vec<Scope>,
}

/// A known token: its name (for logs and messages, never the token) and scopes.
#[derive(Debug, Clone)]
struct Known {
    name: String,
    hash: [u8; 32],
    scopes: u8,
}

/// The tokens of a token file.
#[derive(Debug, Clone)]
pub struct Tokens {
    known: Vec<Known>,
}

/// A token file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("token file {path}: {problem}")]
pub struct TokenFileError {
    path: String,
    problem: String,
}

impl Tokens {
    /// Reads and checks a token file.
    pub fn load(path: &Path) -> Result<Self, TokenFileError> {
        let error = |problem: String| TokenFileError {
            path: path.display().to_string(),
            problem,
        };
        let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
        Self::parse(&text).map_err(error)
    }

    /// Parses the text of a token file.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: TokenFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut problems = Vec::new();
        let mut known: Vec<Known> = Vec::new();
        for (index, entry) in file.token.into_iter().enumerate() {
            let at = format!("token[{index}] ({:?})", entry.name);
            if entry.name.trim().is_empty() {
                problems.push(format!("token[{index}]: name is empty"));
            }
            if entry.scopes.is_empty() {
                problems.push(format!("{at}: scopes is empty"));
            }
            let Some(hash) = decode_sha256(&entry.sha256) else {
                problems.push(format!(
                    "{at}: sha256 must be 64 hexadecimal digits (the SHA-256 of the token)"
                ));
                continue;
            };
            if known.iter().any(|other| other.hash == hash) {
                problems.push(format!("{at}: the same token hash is listed twice"));
            }
            known.push(Known {
                name: entry.name,
                hash,
                scopes: entry
                    .scopes
                    .iter()
                    .fold(0, |bits, scope| bits | scope.bit()),
            });
        }
        if known.is_empty() && problems.is_empty() {
            problems.push("lists no [[token]]; nobody could call".to_owned());
        }
        if problems.is_empty() {
            Ok(Self { known })
        } else {
            Err(problems.join("; "))
        }
    }

    /// Checks the `authorization` header of a call to `method` that needs `scope`; on success
    /// the token's name.
    pub fn authorize(
        &self,
        authorization: Option<&[u8]>,
        scope: Scope,
        method: &str,
    ) -> Result<&str, Status> {
        let Some(header) = authorization else {
            return Err(Status::unauthenticated(
                "missing credentials: send the header `authorization: Bearer <token>`",
            ));
        };
        let token = header
            .strip_prefix(b"Bearer ")
            .or_else(|| header.strip_prefix(b"bearer "))
            .map(<[u8]>::trim_ascii)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                Status::unauthenticated("the authorization header must be `Bearer <token>`")
            })?;
        let presented: [u8; 32] = Sha256::digest(token).into();
        // Every stored hash is compared, whatever matches, so timing tells nothing about
        // which entry (if any) matched.
        let mut found = None;
        for known in &self.known {
            if bool::from(known.hash.ct_eq(&presented)) {
                found = Some(known);
            }
        }
        let known = found.ok_or_else(|| Status::unauthenticated("unknown token"))?;
        if known.scopes & scope.bit() == 0 {
            return Err(Status::permission_denied(format!(
                "token {:?} lacks the scope {scope:?} that {method} needs",
                known.name,
                scope = scope.name()
            )));
        }
        Ok(&known.name)
    }
}

fn decode_sha256(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim().as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0; 32];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

/// The lowercase hexadecimal SHA-256 of a token, as the token file stores it.
pub fn sha256_hex(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A new random token (256 bits from the operating system), printable.
pub fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!(
        "sst_{}",
        bytes
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        Tokens::parse(&format!(
            "[[token]]\nname = \"bot\"\nsha256 = \"{}\"\nscopes = [\"ingest\"]\n\
             [[token]]\nname = \"boss\"\nsha256 = \"{}\"\nscopes = [\"read\", \"admin\"]\n",
            sha256_hex("bot-secret"),
            sha256_hex("boss-secret").to_uppercase(),
        ))
        .unwrap()
    }

    #[test]
    fn scopes_decide_per_method() {
        let tokens = tokens();
        let method = "/servscore.v1.ScoringService/ScoreInteraction";
        assert_eq!(
            tokens
                .authorize(Some(b"Bearer bot-secret"), Scope::Ingest, method)
                .unwrap(),
            "bot"
        );
        let denied = tokens
            .authorize(Some(b"Bearer bot-secret"), Scope::Read, method)
            .unwrap_err();
        assert_eq!(denied.code(), tonic::Code::PermissionDenied);
        assert!(
            denied.message().contains("\"read\""),
            "{}",
            denied.message()
        );
        for header in [
            None,
            Some(&b"Bearer nope"[..]),
            Some(b"Basic Ym90"),
            Some(b"Bearer "),
        ] {
            assert_eq!(
                tokens
                    .authorize(header, Scope::Ingest, method)
                    .unwrap_err()
                    .code(),
                tonic::Code::Unauthenticated,
                "{header:?}"
            );
        }
        assert!(
            tokens
                .authorize(Some(b"Bearer boss-secret"), Scope::Admin, method)
                .is_ok()
        );
    }

    #[test]
    fn bad_token_files_name_each_problem() {
        let problem = Tokens::parse(
            "[[token]]\nname = \"\"\nsha256 = \"abc\"\nscopes = []\n\
             [[token]]\nname = \"x\"\nsha256 = \"abc\"\nscopes = [\"read\"]\n",
        )
        .unwrap_err();
        assert!(problem.contains("token[0]: name is empty"), "{problem}");
        assert!(problem.contains("scopes is empty"), "{problem}");
        assert!(problem.contains("token[1] (\"x\"): sha256"), "{problem}");
        assert!(Tokens::parse("").unwrap_err().contains("no [[token]]"));
        assert!(
            Tokens::parse("[[token]]\nname = \"a\"\nsha256 = \"00\"\nscopes = [\"root\"]\n")
                .is_err()
        );
    }

    #[test]
    fn health_and_reflection_are_open_and_unknown_methods_need_admin() {
        assert_eq!(required_scope("/grpc.health.v1.Health/Check"), None);
        assert_eq!(
            required_scope("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"),
            None
        );
        assert_eq!(
            required_scope("/servscore.v1.PerformanceService/CloseDay"),
            Some(Scope::Admin)
        );
        assert_eq!(
            required_scope("/servscore.v1.PerformanceService/WatchRollups"),
            Some(Scope::Read)
        );
        assert_eq!(
            required_scope("/servscore.v1.ScoringService/Nope"),
            Some(Scope::Admin)
        );
        assert_eq!(required_scope("/other.Service/X"), Some(Scope::Admin));
    }

    #[test]
    fn new_tokens_are_random_and_hash_as_sha256() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 64);
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
