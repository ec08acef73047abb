//! Fields the platform has that openframe computes from stored ones instead of storing them:
//! `interaction.active`, true until the state is `closed_*`. A query on one becomes a condition on the
//! stored field it comes from, so every store answers it with the rules it already has.

use crate::error::{Error, Result};
use crate::query::{Condition, Op};
use crate::record::Record;
use crate::schema::{self, INTERACTION, Table, field};

/// `interaction.active`.
pub const ACTIVE: &str = field::ACTIVE;

/// The computed fields of `table`, shown after its stored fields.
pub fn computed_fields(table: &Table) -> &'static [&'static str] {
    if std::ptr::eq(table, &INTERACTION) {
        &[ACTIVE]
    } else {
        &[]
    }
}

/// Whether `name` is a computed field of `table`.
pub fn is_computed(table: &Table, name: &str) -> bool {
    computed_fields(table).contains(&name)
}

/// The value of computed field `name` of `record`, `None` when it is no computed field of its table.
pub fn value(record: &Record, name: &str) -> Option<&'static str> {
    if !is_computed(record.table(), name) {
        return None;
    }
    Some(if schema::is_closed_state(record.get(field::STATE)) {
        "false"
    } else {
        "true"
    })
}

/// The condition on stored fields that `active <op> <operand>` means. `=`/`!=`/`IN`/`NOT IN` take `true`
/// or `false` (any case); `ISNOTEMPTY` and `ANYTHING` hold for every interaction, `ISEMPTY` and
/// `EMPTYSTRING` for none (a boolean is never empty).
pub(crate) fn active_condition(op: Op, operand: &str) -> Result<Condition> {
    let closed: Vec<String> = schema::STATES
        .iter()
        .filter(|s| schema::is_closed_state(s))
        .map(|s| (*s).to_owned())
        .collect();
    let truth = |text: &str| match text.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Error::invalid(
            "sysparm_query",
            format!("active: the value {text:?} must be true or false"),
        )),
    };
    // Which truth values the condition selects.
    let (wants_true, wants_false) = match op {
        Op::Equals => (truth(operand)?, !truth(operand)?),
        Op::NotEquals => (!truth(operand)?, truth(operand)?),
        Op::In | Op::NotIn => {
            let listed = operand
                .split(',')
                .map(truth)
                .collect::<Result<Vec<bool>>>()?;
            let (t, f) = (listed.contains(&true), listed.contains(&false));
            if op == Op::In { (t, f) } else { (!t, !f) }
        }
        Op::IsNotEmpty | Op::Anything if operand.is_empty() => (true, true),
        Op::IsEmpty | Op::EmptyString if operand.is_empty() => (false, false),
        _ => {
            return Err(Error::invalid(
                "sysparm_query",
                "active takes =, !=, IN, NOT IN (with true or false), ISEMPTY, ISNOTEMPTY, ANYTHING or \
                 EMPTYSTRING",
            ));
        }
    };
    let mut condition = match (wants_true, wants_false) {
        (true, true) => Condition::new(field::STATE, Op::Anything, ""),
        // The state is never empty, and a sys_id never is: nothing matches.
        (false, false) => Condition::new(field::SYS_ID, Op::IsEmpty, ""),
        (true, false) => Condition::new(field::STATE, Op::NotIn, ""),
        (false, true) => Condition::new(field::STATE, Op::In, ""),
    };
    if matches!(condition.op, Op::In | Op::NotIn) {
        condition.values = closed;
    }
    Ok(condition)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::STATES;

    fn interaction(state: &str) -> Record {
        let mut r = Record::new(&INTERACTION);
        r.set(field::SYS_ID, "0123456789abcdef0123456789abcdef");
        r.set(field::STATE, state);
        r
    }

    #[test]
    fn active_until_closed() {
        assert_eq!(value(&interaction("wrap_up"), ACTIVE), Some("true"));
        assert_eq!(
            value(&interaction("closed_abandoned"), ACTIVE),
            Some("false")
        );
        assert_eq!(value(&interaction("new"), field::STATE), None);
    }

    /// Each form of condition selects exactly the interactions whose computed value it names.
    #[test]
    fn conditions_on_active_match_the_computed_value() {
        let cases: &[(Op, &str, &[&str])] = &[
            (Op::Equals, "true", &["true"]),
            (Op::Equals, "FALSE", &["false"]),
            (Op::NotEquals, "true", &["false"]),
            (Op::NotEquals, "false", &["true"]),
            (Op::In, "true,false", &["true", "false"]),
            (Op::In, "false", &["false"]),
            (Op::NotIn, "false", &["true"]),
            (Op::NotIn, "true,false", &[]),
            (Op::IsNotEmpty, "", &["true", "false"]),
            (Op::Anything, "", &["true", "false"]),
            (Op::IsEmpty, "", &[]),
            (Op::EmptyString, "", &[]),
        ];
        for (op, operand, selected) in cases {
            let condition = active_condition(*op, operand).unwrap();
            for state in STATES {
                let record = interaction(state);
                let computed = value(&record, ACTIVE).unwrap();
                assert_eq!(
                    condition.matches(&record),
                    selected.contains(&computed),
                    "active {op:?} {operand:?} on state {state}"
                );
            }
        }
    }

    #[test]
    fn other_conditions_on_active_are_refused() {
        for (op, operand) in [
            (Op::Equals, "yes"),
            (Op::Equals, ""),
            (Op::StartsWith, "t"),
            (Op::LessThan, "true"),
        ] {
            let err = active_condition(op, operand).unwrap_err();
            assert!(err.to_string().starts_with("sysparm_query:"), "{err}");
        }
    }
}
