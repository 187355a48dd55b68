//! `SearchClause` evaluation: a tree of `and`/`or`/`not_and`/`not_or`
//! clauses over leaf rules `<Type>.<Field> <operator> <value>`, matched
//! against an object in its wire form (e.g. a `BackupJobDetail`). Values are
//! always strings on the wire: integers in base 10, booleans as Go's
//! `strconv.ParseBool` reads them.

use halley_api::types::SearchClause;
use serde_json::Value;

/// Whether `object` (of wire type `type_name`) matches the clause. An empty
/// clause (no type, no field, no children) matches everything. A malformed
/// clause is an error naming what is wrong.
pub fn matches(clause: &SearchClause, type_name: &str, object: &Value) -> Result<bool, String> {
    let children = || {
        clause
            .clause_children
            .iter()
            .map(|child| matches(child, type_name, object))
    };
    let all = || children().try_fold(true, |acc, m| Ok::<_, String>(acc && m?));
    let any = || children().try_fold(false, |acc, m| Ok::<_, String>(acc || m?));
    match clause.clause_type.as_str() {
        "and" => all(),
        "or" => any(),
        "not_and" => all().map(|m| !m),
        "not_or" => any().map(|m| !m),
        "" if clause.rule_field.is_empty() && clause.rule_operator.is_empty() => Ok(true),
        "" => rule(clause, type_name, object),
        other => Err(format!(
            "ClauseType '{other}' is unknown (use \"\", and, or, not_and or not_or)"
        )),
    }
}

fn rule(clause: &SearchClause, type_name: &str, object: &Value) -> Result<bool, String> {
    let field = clause
        .rule_field
        .strip_prefix(type_name)
        .and_then(|rest| rest.strip_prefix('.'))
        .ok_or_else(|| {
            format!(
                "RuleField '{}' must name a field of {type_name} as {type_name}.Field",
                clause.rule_field
            )
        })?;
    // Fields left out of the wire form (omitempty) hold their zero value.
    let actual = object.get(field).unwrap_or(&Value::Null);
    let expected = clause.rule_value.as_str();
    let operator = clause.rule_operator.as_str();
    if let Some(op) = operator.strip_prefix("int_") {
        let expected: i64 = expected
            .parse()
            .map_err(|_| format!("RuleValue '{expected}' is not a base-10 integer"))?;
        let actual = actual.as_i64().unwrap_or(0);
        return Ok(match op {
            "eq" => actual == expected,
            "neq" => actual != expected,
            "gt" => actual > expected,
            "gte" => actual >= expected,
            "lt" => actual < expected,
            "lte" => actual <= expected,
            _ => return Err(unknown_operator(operator)),
        });
    }
    if let Some(op) = operator.strip_prefix("bool_") {
        let expected = parse_bool(expected)?;
        let actual = actual.as_bool().unwrap_or(false);
        return Ok(match op {
            "is" => actual == expected,
            "nis" => actual != expected,
            _ => return Err(unknown_operator(operator)),
        });
    }
    let Some(op) = operator.strip_prefix("str_") else {
        return Err(unknown_operator(operator));
    };
    let actual = actual.as_str().unwrap_or("");
    if op == "regexmatch" || op == "nregexmatch" {
        let regex = regex::Regex::new(expected)
            .map_err(|e| format!("RuleValue '{expected}' is not a regular expression: {e}"))?;
        return Ok(regex.is_match(actual) == (op == "regexmatch"));
    }
    let (op, actual, expected) = match op.strip_suffix("_ci") {
        Some(op) => (op, actual.to_lowercase(), expected.to_lowercase()),
        None => (op, actual.to_string(), expected.to_string()),
    };
    let (negated, op) = match op.strip_prefix('n') {
        Some(rest) => (true, rest),
        None => (false, op),
    };
    let found = match op {
        "eq" => actual == expected,
        "contains" => actual.contains(&expected),
        "startswith" => actual.starts_with(&expected),
        "endswith" => actual.ends_with(&expected),
        _ => return Err(unknown_operator(operator)),
    };
    Ok(found != negated)
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        other => Err(format!("RuleValue '{other}' is not a boolean")),
    }
}

fn unknown_operator(operator: &str) -> String {
    format!("RuleOperator '{operator}' is unknown")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn leaf(field: &str, operator: &str, value: &str) -> SearchClause {
        serde_json::from_value(
            json!({"RuleField": field, "RuleOperator": operator, "RuleValue": value}),
        )
        .unwrap()
    }

    fn job() -> Value {
        json!({"Username": "Alice", "StartTime": 1000, "Status": 5000, "Cancelled": false})
    }

    fn check(clause: &SearchClause) -> bool {
        matches(clause, "BackupJobDetail", &job()).unwrap()
    }

    #[test]
    fn leaf_rules_compare_by_type() {
        assert!(check(&leaf("BackupJobDetail.Username", "str_eq", "Alice")));
        assert!(!check(&leaf("BackupJobDetail.Username", "str_eq", "alice")));
        assert!(check(&leaf(
            "BackupJobDetail.Username",
            "str_eq_ci",
            "alice"
        )));
        assert!(check(&leaf("BackupJobDetail.Username", "str_neq", "Bob")));
        assert!(check(&leaf(
            "BackupJobDetail.Username",
            "str_ncontains_ci",
            "bo"
        )));
        assert!(check(&leaf(
            "BackupJobDetail.Username",
            "str_startswith",
            "Al"
        )));
        assert!(check(&leaf(
            "BackupJobDetail.Username",
            "str_nendswith",
            "x"
        )));
        assert!(check(&leaf(
            "BackupJobDetail.Username",
            "str_regexmatch",
            "^A.+e$"
        )));
        assert!(check(&leaf("BackupJobDetail.StartTime", "int_gte", "1000")));
        assert!(!check(&leaf("BackupJobDetail.StartTime", "int_gt", "1000")));
        assert!(check(&leaf("BackupJobDetail.Cancelled", "bool_is", "F")));
        // A field left out of the wire form is its zero value.
        assert!(check(&leaf("BackupJobDetail.EndTime", "int_eq", "0")));
    }

    #[test]
    fn clauses_combine_children() {
        let yes = leaf("BackupJobDetail.Status", "int_eq", "5000");
        let no = leaf("BackupJobDetail.Status", "int_eq", "7002");
        let clause = |kind: &str, children: Vec<SearchClause>| SearchClause {
            clause_type: kind.into(),
            clause_children: children,
            ..Default::default()
        };
        assert!(check(&clause("or", vec![yes.clone(), no.clone()])));
        assert!(!check(&clause("and", vec![yes.clone(), no.clone()])));
        assert!(check(&clause("not_and", vec![yes.clone(), no.clone()])));
        assert!(!check(&clause("not_or", vec![yes, no])));
        assert!(
            check(&SearchClause::default()),
            "an empty filter matches all"
        );
    }

    #[test]
    fn malformed_rules_name_the_problem() {
        let err = matches(
            &leaf("Device.Name", "str_eq", "x"),
            "BackupJobDetail",
            &job(),
        );
        assert!(err.unwrap_err().contains("Device.Name"));
        let err = matches(
            &leaf("BackupJobDetail.StartTime", "int_gt", "soon"),
            "BackupJobDetail",
            &job(),
        );
        assert!(err.unwrap_err().contains("soon"));
        let err = matches(
            &leaf("BackupJobDetail.Username", "str_like", "x"),
            "BackupJobDetail",
            &job(),
        );
        assert!(err.unwrap_err().contains("str_like"));
    }
}
