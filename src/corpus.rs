//! A realistic, deterministic corpus of interactions for benchmarks and load tests: Chinese,
//! English and mixed chats, calls and emails of 5–60 turns (about 4 KiB typical), every tier
//! and channel, commitments, complaints and surveys, staff spread over teams and days. The
//! same seed and index always give the same interaction.

use jiff::Timestamp;

use crate::proto::v1 as pb;

/// How a corpus is generated.
#[derive(Debug, Clone)]
pub struct CorpusOptions {
    /// The seed.
    pub seed: u64,
    /// Staff members (`staff-0` ...).
    pub staff: usize,
    /// Interactions are opened over this many days before `now`.
    pub days: i64,
    /// The latest instant anything happens.
    pub now: Timestamp,
}

impl Default for CorpusOptions {
    fn default() -> Self {
        Self {
            seed: 20_261_122,
            staff: 200,
            days: 14,
            now: Timestamp::from_second(1_795_435_200).expect("a valid instant"),
        }
    }
}

#[derive(Clone, Copy)]
enum Language {
    Chinese,
    English,
    Mixed,
}

const ZH_GREETINGS: &[&str] = &[
    "您好，很高兴为您服务，请问有什么可以帮您？",
    "您好，欢迎咨询，我是客服小王。",
    "早上好，请问有什么可以帮您？",
];
const EN_GREETINGS: &[&str] = &[
    "Hello, thank you for contacting us. How can I help?",
    "Hi there, welcome! How may I help you today?",
    "Good afternoon, how can I help?",
];
const ZH_QUESTIONS: &[&str] = &[
    "我上周买的{item}到现在还没有发货，订单号是{order}，能帮我查一下吗？",
    "请问{item}的保修期是多久？我的已经用了十一个月了，最近开机很慢。",
    "我的账单上多扣了{amount}元，这是怎么回事？",
    "能不能帮我把收货地址改到公司？订单号{order}。",
    "{item}安装好以后一直提示错误代码E{code}，说明书上也没写。",
];
const EN_QUESTIONS: &[&str] = &[
    "My {item} still hasn't shipped and it's been a week. Order number {order}. Can you check?",
    "How long is the warranty on the {item}? Mine is eleven months old and has started to lag.",
    "I was charged {amount} dollars twice on my last bill. Why is that?",
    "Could you change the delivery address for order {order} to my office, please?",
    "After installing the {item} it keeps showing error E{code}; the manual says nothing about it.",
];
const ZH_ANSWERS: &[&str] = &[
    "好的，我这边帮您查询一下订单{order}的物流信息，请稍等。",
    "已经查到了，仓库那边显示今天下午会发出，预计两天内送达。",
    "{item}的保修期是两年，您的还在保修期内，我帮您登记一个上门检测。",
    "多扣的{amount}元我已经提交退款申请，三到五个工作日会原路退回。",
    "错误代码E{code}一般是网络设置的问题，您可以先重启路由器再试一次。",
    "地址已经帮您修改好了，新的地址会同步给快递公司。",
];
const EN_ANSWERS: &[&str] = &[
    "Sure, let me look up the tracking information for order {order}. One moment please.",
    "I found it: the warehouse shows it leaving this afternoon, arriving within two days.",
    "The {item} has a two-year warranty, so you are covered. I'll book a technician visit.",
    "I've filed a refund for the extra {amount} dollars; it takes three to five business days.",
    "Error E{code} usually points to network settings. Could you restart the router and try again?",
    "Done, the new address is saved and the courier will be notified.",
];
const ZH_FOLLOW_UPS: &[&str] = &[
    "好的，谢谢",
    "那大概什么时候能到？",
    "还有一个问题，发票怎么开？",
    "明白了",
    "可以，麻烦你了",
];
const EN_FOLLOW_UPS: &[&str] = &[
    "OK, thanks",
    "When will it arrive, roughly?",
    "One more thing: how do I get an invoice?",
    "Got it",
    "Great, appreciate it",
];
const ZH_COMPLAINTS: &[&str] = &[
    "这已经是第三次了，我要投诉！",
    "你们的服务太差了，我很不满意",
    "等了这么久没人管，太失望了",
];
const EN_COMPLAINTS: &[&str] = &[
    "This is the third time, I want to file a complaint!",
    "This is unacceptable, I'm really disappointed.",
    "I'm frustrated, nobody has helped me for days.",
];
const ZH_APOLOGIES: &[&str] = &[
    "非常抱歉给您带来不便，我理解您的心情，马上为您处理。",
    "对不起，是我们的失误，感谢您的反馈。",
];
const EN_APOLOGIES: &[&str] = &[
    "I'm so sorry for the trouble, I understand your frustration. Let me fix this now.",
    "Apologies, that was our mistake. Thank you for your feedback.",
];
const ZH_CLOSINGS: &[&str] = &[
    "感谢您的耐心，祝您生活愉快，再见！",
    "还有什么可以帮您的吗？没有的话祝您愉快。",
];
const EN_CLOSINGS: &[&str] = &[
    "Thank you for your patience, have a nice day!",
    "Is there anything else I can help with? Thanks, and take care.",
];
const RUDE: &[&str] = &[
    "这个不归我管，你自己看说明书。",
    "That's not my job, deal with it.",
];
const ITEMS: &[&str] = &[
    "空调",
    "洗衣机",
    "冰箱",
    "router",
    "smart TV",
    "vacuum cleaner",
    "电热水器",
];

/// Generates interactions.
pub struct Corpus {
    options: CorpusOptions,
}

fn pick<'a>(rng: &mut fastrand::Rng, items: &[&'a str]) -> &'a str {
    items[rng.usize(..items.len())]
}

fn weighted<T: Copy>(rng: &mut fastrand::Rng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, weight)| weight).sum();
    let mut roll = rng.u32(..total);
    for &(item, weight) in items {
        if roll < weight {
            return item;
        }
        roll -= weight;
    }
    items[items.len() - 1].0
}

fn ts(instant: Timestamp) -> prost_types::Timestamp {
    crate::convert::timestamp_to_proto(instant)
}

impl Corpus {
    /// A corpus.
    pub fn new(options: CorpusOptions) -> Self {
        Self { options }
    }

    /// The options.
    pub fn options(&self) -> &CorpusOptions {
        &self.options
    }

    fn rng(&self, index: u64) -> fastrand::Rng {
        fastrand::Rng::with_seed(self.options.seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    fn fill(rng: &mut fastrand::Rng, template: &str) -> String {
        template
            .replace("{item}", pick(rng, ITEMS))
            .replace(
                "{order}",
                &format!("{}", 10_000_000 + rng.u32(..90_000_000)),
            )
            .replace("{amount}", &format!("{}", 20 + rng.u32(..480)))
            .replace("{code}", &format!("{}", rng.u32(10..99)))
    }

    fn line(rng: &mut fastrand::Rng, language: Language, zh: &[&str], en: &[&str]) -> String {
        let use_zh = match language {
            Language::Chinese => true,
            Language::English => false,
            Language::Mixed => rng.bool(),
        };
        let template = pick(rng, if use_zh { zh } else { en });
        Self::fill(rng, template)
    }

    /// Interaction `index` of the corpus (revision 1).
    pub fn interaction(&self, index: u64) -> pb::Interaction {
        let mut rng = self.rng(index);
        let channel = weighted(
            &mut rng,
            &[
                (pb::Channel::Chat, 40),
                (pb::Channel::Phone, 25),
                (pb::Channel::Email, 20),
                (pb::Channel::Social, 7),
                (pb::Channel::Sms, 5),
                (pb::Channel::InPerson, 3),
            ],
        );
        let tier = weighted(
            &mut rng,
            &[
                (pb::Tier::Small, 45),
                (pb::Tier::Medium, 30),
                (pb::Tier::Large, 15),
                (pb::Tier::Vip, 10),
            ],
        );
        let kind = weighted(
            &mut rng,
            &[
                (pb::InteractionKind::Inquiry, 50),
                (pb::InteractionKind::ServiceRequest, 25),
                (pb::InteractionKind::Complaint, 15),
                (pb::InteractionKind::FollowUp, 5),
                (pb::InteractionKind::Feedback, 5),
            ],
        );
        let language = weighted(
            &mut rng,
            &[
                (Language::Chinese, 50),
                (Language::English, 35),
                (Language::Mixed, 15),
            ],
        );
        let (fewest, most) = weighted(&mut rng, &[((5, 12), 20), ((13, 30), 55), ((31, 60), 25)]);
        let turn_count = rng.usize(fewest..=most);
        let reply_seconds = match channel {
            pb::Channel::Email => 3_600..=30 * 3_600,
            pb::Channel::Phone | pb::Channel::InPerson => 2..=60,
            _ => 10..=300,
        };
        // Everything happens within the corpus window and before `now`.
        let span_estimate = (turn_count as i64) * *reply_seconds.end();
        let window = self.options.days * 86_400;
        let opened = self.options.now.as_second() - span_estimate - rng.i64(0..window.max(1));
        let mut clock = opened;
        let mut turns = Vec::with_capacity(turn_count);
        let complaint = kind == pb::InteractionKind::Complaint;
        let mut speak =
            |rng: &mut fastrand::Rng, speaker: pb::Speaker, text: String, clock: &mut i64| {
                *clock += rng.i64(reply_seconds.clone());
                turns.push(pb::Turn {
                    speaker: speaker as i32,
                    staff_id: String::new(),
                    at: Some(ts(Timestamp::from_second(*clock).expect("in range"))),
                    text,
                });
            };
        let first = if complaint {
            Self::line(&mut rng, language, ZH_COMPLAINTS, EN_COMPLAINTS)
        } else {
            Self::line(&mut rng, language, ZH_QUESTIONS, EN_QUESTIONS)
        };
        speak(&mut rng, pb::Speaker::Customer, first, &mut clock);
        let greeting = Self::line(&mut rng, language, ZH_GREETINGS, EN_GREETINGS);
        let opening = if complaint && rng.u8(..10) < 7 {
            format!(
                "{greeting}{}",
                Self::line(&mut rng, language, ZH_APOLOGIES, EN_APOLOGIES)
            )
        } else {
            format!(
                "{greeting}{}",
                Self::line(&mut rng, language, ZH_ANSWERS, EN_ANSWERS)
            )
        };
        speak(&mut rng, pb::Speaker::Staff, opening, &mut clock);
        for _ in 0..(turn_count.saturating_sub(3) / 2) {
            let customer = if rng.u8(..10) < 4 {
                Self::line(&mut rng, language, ZH_FOLLOW_UPS, EN_FOLLOW_UPS)
            } else {
                Self::line(&mut rng, language, ZH_QUESTIONS, EN_QUESTIONS)
            };
            speak(&mut rng, pb::Speaker::Customer, customer, &mut clock);
            let staff = if rng.u16(..200) == 0 {
                pick(&mut rng, RUDE).to_owned()
            } else {
                let lines = if rng.u8(..10) < 5 { 3 } else { 2 };
                (0..lines)
                    .map(|_| Self::line(&mut rng, language, ZH_ANSWERS, EN_ANSWERS))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            speak(&mut rng, pb::Speaker::Staff, staff, &mut clock);
        }
        let closing = Self::line(&mut rng, language, ZH_CLOSINGS, EN_CLOSINGS);
        speak(&mut rng, pb::Speaker::Staff, closing, &mut clock);

        let last = clock;
        let mut status_changes = Vec::new();
        let resolved = rng.u8(..10) < 7;
        if rng.u8(..10) == 0 {
            status_changes.push(pb::StatusChange {
                status: pb::InteractionStatus::PendingCustomer as i32,
                at: Some(ts(Timestamp::from_second(last - 1).expect("in range"))),
            });
        }
        if resolved {
            status_changes.push(pb::StatusChange {
                status: pb::InteractionStatus::Resolved as i32,
                at: Some(ts(Timestamp::from_second(last + 60).expect("in range"))),
            });
        }
        let mut commitments = Vec::new();
        if rng.u8(..10) < 3 {
            let due = last + rng.i64(3_600..48 * 3_600);
            let fulfilled = (rng.u8(..10) < 6).then(|| due + rng.i64(-3 * 3_600..2 * 3_600));
            commitments.push(pb::Commitment {
                commitment_id: "callback".to_owned(),
                description: "call the customer back with the result".to_owned(),
                due_at: Some(ts(Timestamp::from_second(due).expect("in range"))),
                fulfilled_at: fulfilled
                    .filter(|&fulfilled| fulfilled <= self.options.now.as_second())
                    .map(|fulfilled| ts(Timestamp::from_second(fulfilled).expect("in range"))),
            });
        }
        let survey = (rng.u8(..4) == 0).then(|| pb::Survey {
            expectation: rng.i32(2..=5),
            perception: rng.i32(1..=5),
            answered_at: None,
        });
        let complaint_loop = (complaint && resolved).then(|| pb::ComplaintLoop {
            resolution_recorded_at: Some(ts(Timestamp::from_second(last + 60).expect("in range"))),
            resolution_summary: "replacement shipped".to_owned(),
            customer_confirmed_at: (rng.u8(..10) < 8)
                .then(|| ts(Timestamp::from_second(last + 120).expect("in range"))),
            callback_at: None,
        });
        pb::Interaction {
            interaction_id: format!("corpus-{}-{index}", self.options.seed),
            revision: 1,
            staff_id: format!("staff-{}", rng.usize(..self.options.staff.max(1))),
            customer_id: format!("customer-{}", rng.u32(..1_000_000)),
            tier: tier as i32,
            channel: channel as i32,
            kind: kind as i32,
            initiator: pb::Initiator::Customer as i32,
            opened_at: Some(ts(Timestamp::from_second(opened).expect("in range"))),
            turns,
            status_changes,
            commitments,
            survey,
            complaint: complaint_loop,
            standard: None,
        }
    }

    /// A chat of about `bytes` of text (Chinese and English turns of about 200 bytes), for
    /// measuring how scoring cost grows with transcript size.
    pub fn chat_of_size(&self, bytes: usize) -> pb::Interaction {
        let mut rng = self.rng(bytes as u64);
        let mut interaction = self.interaction(0);
        interaction.channel = pb::Channel::Chat as i32;
        interaction.turns.clear();
        interaction.status_changes.clear();
        interaction.commitments.clear();
        let opened = self.options.now.as_second() - 30 * 86_400;
        interaction.opened_at = Some(ts(Timestamp::from_second(opened).expect("in range")));
        let mut total = 0;
        let mut index = 0_i64;
        while total < bytes {
            let staff = index % 2 == 1;
            let text = if staff {
                Self::line(&mut rng, Language::Mixed, ZH_ANSWERS, EN_ANSWERS)
            } else {
                Self::line(&mut rng, Language::Mixed, ZH_QUESTIONS, EN_QUESTIONS)
            };
            total += text.len();
            interaction.turns.push(pb::Turn {
                speaker: if staff {
                    pb::Speaker::Staff
                } else {
                    pb::Speaker::Customer
                } as i32,
                staff_id: String::new(),
                at: Some(ts(
                    Timestamp::from_second(opened + index * 30).expect("in range")
                )),
                text,
            });
            index += 1;
        }
        interaction
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Limits;
    use crate::convert::interaction::{RevisionRule, from_proto};

    #[test]
    fn the_corpus_is_valid_deterministic_and_about_4_kib() {
        let corpus = Corpus::new(CorpusOptions::default());
        let mut bytes = 0;
        for index in 0..300 {
            let interaction = corpus.interaction(index);
            assert_eq!(interaction, corpus.interaction(index));
            from_proto(
                &interaction,
                "interaction",
                &Limits::default(),
                RevisionRule::Required,
                corpus.options().now,
            )
            .unwrap_or_else(|invalid| panic!("corpus item {index} is invalid: {invalid}"));
            bytes += prost::Message::encoded_len(&interaction);
        }
        let mean = bytes / 300;
        assert!(
            (3_500..=5_000).contains(&mean),
            "mean encoded size {mean} bytes"
        );
    }
}
