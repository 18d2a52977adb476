//! What ships inside the binary: the built-in default standard (`standards/default.toml`).

use crate::proto::v1 as pb;

/// Id of the built-in standard.
pub const DEFAULT_STANDARD_ID: &str = "default";

/// The built-in standard's data file.
pub const DEFAULT_STANDARD_TOML: &str = include_str!("../standards/default.toml");

/// The built-in standard as version 1 of "default".
pub fn default_standard() -> pb::Standard {
    let mut standard: pb::Standard =
        crate::convert::json::from_toml("servscore.v1.Standard", DEFAULT_STANDARD_TOML)
            .expect("the built-in standard parses");
    standard.version = 1;
    standard
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::interaction::{Channel, Tier};

    #[test]
    fn the_default_standard_is_valid_and_covers_every_pair() {
        let standard = crate::convert::standard::from_proto(&default_standard(), "standard")
            .unwrap_or_else(|invalid| panic!("{invalid:?}"));
        assert_eq!(standard.standard_id, DEFAULT_STANDARD_ID);
        for tier in Tier::ALL {
            for channel in Channel::ALL {
                let cell = standard.cell(tier, channel);
                assert!(!cell.rules.politeness.is_empty(), "{}", cell.id);
            }
        }
    }

    #[test]
    fn targets_tighten_from_small_to_vip_and_levels_follow_the_tier_matrix() {
        let standard =
            crate::convert::standard::from_proto(&default_standard(), "standard").unwrap();
        for channel in Channel::ALL {
            let first_reply = |tier| {
                standard
                    .cell(tier, channel)
                    .rules
                    .speed
                    .first_reply
                    .unwrap()
                    .target
            };
            assert!(first_reply(Tier::Vip) < first_reply(Tier::Large));
            assert!(first_reply(Tier::Large) < first_reply(Tier::Medium));
            assert!(first_reply(Tier::Medium) < first_reply(Tier::Small));
            let levels = |tier| standard.cell(tier, channel).rules.service_levels;
            for tier in Tier::ALL {
                assert!(levels(tier).answer_every_question && levels(tier).keep_communicating);
            }
            assert!(!levels(Tier::Small).dedicated_owner);
            assert!(
                levels(Tier::Medium).dedicated_owner && !levels(Tier::Medium).exceed_expectations
            );
            assert!(
                levels(Tier::Large).exceed_expectations && levels(Tier::Vip).exceed_expectations
            );
        }
    }
}
