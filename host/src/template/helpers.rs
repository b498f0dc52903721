//! The functions templates may call, registered as handlebars helpers.
//!
//! Go-template files call them as `{{.x | upper}}` or `{{upper .x}}`; the translator turns both
//! into `{{upper x}}`. Native handlebars files call them directly. Value helpers are strict
//! about missing variables (an error naming the variable, as a bare `{{x}}` would give),
//! except where the spec says a missing variable is simply false: `default`, the comparisons
//! and boolean helpers used in conditions, and the block helpers `if`, `unless`, `with`.

use handlebars::{
    BlockContext, BlockParams, Context, Handlebars, Helper, HelperDef, HelperResult, JsonRender,
    JsonTruthy, Output, PathAndJson, RenderContext, RenderError, RenderErrorReason, Renderable,
    ScopedJson,
};
use serde_json::Value;

/// Emitted after translated Go block tags so handlebars' "standalone line" whitespace removal,
/// which Go does not have, does not apply to them. Renders nothing.
pub(crate) const KEEP: &str = "gotmpl_keep";
/// Go/sprig `default`: the fallback first, the value last (`default "y" .x`, `.x | default "y"`).
pub(crate) const GO_DEFAULT: &str = "gotmpl_default";
/// Turns what a Go `range` or a handlebars `each` iterates into an array or object: a variable
/// holding a JSON array (or object) as a string is parsed.
pub(crate) const ITER: &str = "gotmpl_iter";

/// Helpers handlebars registers itself and that we keep.
const BUILTINS: &[&str] = &["if", "unless", "each", "lookup", "raw", "log", "len"];

/// Names our registry answers as helpers; everything else in a name position is a variable.
pub(crate) fn is_helper(name: &str) -> bool {
    BUILTINS.contains(&name) || VALUE_HELPERS.iter().any(|(n, _)| *n == name) || name == "with"
}

/// Helpers whose missing arguments count as absent instead of being an error.
pub(crate) fn is_lenient(name: &str) -> bool {
    matches!(
        name,
        "if" | "unless"
            | "with"
            | "eq"
            | "ne"
            | "lt"
            | "le"
            | "lte"
            | "gt"
            | "ge"
            | "gte"
            | "and"
            | "or"
            | "not"
    )
}

type HelperFn = fn(&str, &[PathAndJson<'_>]) -> Result<Value, RenderError>;

const VALUE_HELPERS: &[(&str, HelperFn)] = &[
    ("default", native_default),
    (GO_DEFAULT, go_default),
    (ITER, iter),
    (KEEP, keep),
    ("upper", upper),
    ("lower", lower),
    ("add", add),
    ("sub", sub),
    ("mul", mul),
    ("div", div),
    ("toJson", to_json),
    ("json", json),
    ("print", print),
    ("eq", eq),
    ("ne", ne),
    ("lt", lt),
    ("le", le),
    ("lte", le),
    ("gt", gt),
    ("ge", ge),
    ("gte", ge),
    ("and", and),
    ("or", or),
    ("not", not),
];

/// Registers every helper, replacing handlebars' strict `eq`/`ne`/... and `with`.
pub(crate) fn register(hb: &mut Handlebars<'static>) {
    for (name, f) in VALUE_HELPERS {
        hb.register_helper(name, Box::new(ValueHelper { name, f: *f }));
    }
    hb.register_helper("with", Box::new(LenientWith));
}

/// A helper computing one value from its parameters.
struct ValueHelper {
    name: &'static str,
    f: HelperFn,
}

impl HelperDef for ValueHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        (self.f)(self.name, h.params()).map(ScopedJson::Derived)
    }
}

/// `with` that treats a missing value like an empty one (renders the `else` part, or nothing),
/// where the built-in is an error in strict mode. Otherwise identical to the built-in.
struct LenientWith;

impl HelperDef for LenientWith {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        rc: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let param = h
            .param(0)
            .ok_or(RenderErrorReason::ParamNotFoundForIndex("with", 0))?;
        if !param.value().is_truthy(false) {
            return match h.inverse() {
                Some(t) => t.render(r, ctx, rc, out),
                None => Ok(()),
            };
        }
        let mut block = BlockContext::new();
        match param.context_path() {
            Some(path) => block.base_path_mut().clone_from(path),
            None => block.set_base_value(param.value().clone()),
        }
        if let Some(parent) = rc.block() {
            block
                .local_variables_mut()
                .clone_from(parent.local_variables());
        }
        if let Some(name) = h.block_param() {
            let mut params = BlockParams::new();
            if param.context_path().is_some() {
                params.add_path(name, Vec::new())?;
            } else {
                params.add_value(name, param.value().clone())?;
            }
            block.set_block_params(params);
        }
        rc.push_block(block);
        let result = match h.template() {
            Some(t) => t.render(r, ctx, rc, out),
            None => Ok(()),
        };
        rc.pop_block();
        result
    }
}

fn other(message: String) -> RenderError {
    RenderErrorReason::Other(message).into()
}

/// The error a bare `{{x}}` gives in strict mode, so both read the same to the user.
fn missing(p: &PathAndJson<'_>) -> RenderError {
    RenderErrorReason::MissingVariable(p.relative_path().cloned()).into()
}

fn arity(name: &str, params: &[PathAndJson<'_>], min: usize, max: Option<usize>) -> HelperResult {
    let n = params.len();
    if n < min || max.is_some_and(|m| n > m) {
        let want = match max {
            Some(m) if m == min => format!("{min}"),
            Some(m) => format!("{min} to {m}"),
            None => format!("at least {min}"),
        };
        return Err(other(format!(
            "wrong number of args for {name}: want {want} got {n}"
        )));
    }
    Ok(())
}

/// The parameter's value, or the missing-variable error.
fn present<'a>(p: &'a PathAndJson<'_>) -> Result<&'a Value, RenderError> {
    if p.is_value_missing() {
        Err(missing(p))
    } else {
        Ok(p.value())
    }
}

/// A lenient parameter: missing reads as null.
fn lenient<'a>(p: &'a PathAndJson<'_>) -> &'a Value {
    p.value()
}

/// Text of a value as printed into a template: strings verbatim, structures as compact JSON.
pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::Array(_) | Value::Object(_) => v.to_string(),
        other => other.render(),
    }
}

/// Sprig's notion of empty: what `default` replaces.
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

fn pick_default(value: &PathAndJson<'_>, fallback: &PathAndJson<'_>) -> Result<Value, RenderError> {
    if !value.is_value_missing() && !is_empty(value.value()) {
        return Ok(value.value().clone());
    }
    present(fallback).cloned()
}

/// Native `{{default x "y"}}`: the value first. Sprig order written natively
/// (`{{default "y" x}}`) is recognised when the first parameter is a literal and the second
/// is not.
fn native_default(name: &str, params: &[PathAndJson<'_>]) -> Result<Value, RenderError> {
    arity(name, params, 2, Some(2))?;
    let (a, b) = (&params[0], &params[1]);
    if a.try_get_constant_value().is_some() && b.try_get_constant_value().is_none() {
        pick_default(b, a)
    } else {
        pick_default(a, b)
    }
}

fn go_default(_: &str, params: &[PathAndJson<'_>]) -> Result<Value, RenderError> {
    arity("default", params, 2, Some(2))?;
    pick_default(&params[1], &params[0])
}

/// What `range`/`each` iterates: arrays and objects as they are; a string holding a JSON array
/// or object is parsed (variables are strings, and `env_from` stores structures as JSON); an
/// empty string or null is an empty list.
fn iter(_: &str, params: &[PathAndJson<'_>]) -> Result<Value, RenderError> {
    arity("range", params, 1, Some(1))?;
    let p = &params[0];
    match present(p)? {
        v @ (Value::Array(_) | Value::Object(_)) => Ok(v.clone()),
        Value::Null => Ok(Value::Array(Vec::new())),
        Value::String(s) if s.trim().is_empty() => Ok(Value::Array(Vec::new())),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(v @ (Value::Array(_) | Value::Object(_))) => Ok(v),
            _ => Err(other(format!(
                "range can't iterate over {}: the value is not a JSON array or object",
                describe(p)
            ))),
        },
        v => Err(other(format!(
            "range can't iterate over {}: {} is not a list",
            describe(p),
            text(v)
        ))),
    }
}

fn describe(p: &PathAndJson<'_>) -> String {
    match p.relative_path() {
        Some(path) => format!("\"{path}\""),
        None => "a value".to_owned(),
    }
}

fn keep(_: &str, _: &[PathAndJson<'_>]) -> Result<Value, RenderError> {
    Ok(Value::String(String::new()))
}

fn upper(name: &str, params: &[PathAndJson<'_>]) -> Result<Value, RenderError> {
    arity(name, params, 1, Some(1))?;
    Ok(Value::String(text(present(&params[0])?).to_uppercase()))
}

fn lower(name: &str, params: &[PathAndJson<'_>]) -> Result<Value, RenderError> {
    arity(name, params, 1, Some(1))?;
    Ok(Value::String(text(present(&params[0])?).to_lowercase()))
}

/// An integer argument: a JSON integer, or a string holding one (variables are strings).
fn int(name: &str, p: &PathAndJson<'_>) -> Result<i64, RenderError> {
    let v = present(p)?;
    let parsed = match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| other(format!("{name}: \"{}\" is not an integer", text(v))))
}

fn fold_ints(
    name: &str,
    params: &[PathAndJson<'_>],
    op: fn(i64, i64) -> Option<i64>,
) -> Result<Value, RenderError> {
    let mut acc = int(name, &params[0])?;
    for p in &params[1..] {
        acc = op(acc, int(name, p)?).ok_or_else(|| other(format!("{name}: integer overflow")))?;
    }
    Ok(Value::from(acc))
}

fn add(name: &str, params: &[PathAndJson<'_>]) -> Result<Value, RenderError> {
    arity(name, params, 1, None)?;
    fold_ints(name, params, i64::checked_add)
}

fn sub(name: &str, params: &[PathAndJson<'_>]) -> Result<Value, RenderError> {
    arity(name, params, 2, Some(2))?;
    fold_ints(name, params, i64::checked_sub)
}

fn mul(name: &str, params: &[PathAndJson<'_>]) -> Result<Value, RenderError> {
    arity(name, params, 1, None)?;
    fold_ints(name, params, i64::checked_mul)
}

/// Integer division truncating toward zero, as Go; dividing by zero is an error.
fn div(name: &str, params: &[PathAndJson<'_>]) -> Result<Value, RenderError> {
    arity(name, params, 2, Some(2))?;
    let (a, b) = (int(name, &params[0])?, int(name, &params[1])?);
    if b == 0 {
        return Err(other(format!("{name}: division by zero")));
    }
    a.checked_div(b)
        .map(Value::from)
        .ok_or_else(|| other(format!("{name}: integer overflow")))
}

/// JSON text of a value. A string holding a JSON array or object is emitted as that structure
/// (compact), since `env_from` stores extracted structures as JSON strings; any other string
/// becomes a quoted JSON string.
fn to_json(name: &str, params: &[PathAndJson<'_>]) -> Result<Value, RenderError> {
    arity(name, params, 1, Some(1))?;
    let v = present(&params[0])?;
    let out = match v {
        Value::String(s) => match structured(s) {
            Some(parsed) => parsed.to_string(),
            None => v.to_string(),
        },
        other => other.to_string(),
    };
    Ok(Value::String(out))
}

fn structured(s: &str) -> Option<Value> {
    let t = s.trim_start();
    if !(t.starts_with('[') || t.starts_with('{')) {
        return None;
    }
    serde_json::from_str::<Value>(s)
        .ok()
        .filter(|v| v.is_array() || v.is_object())
}

/// Any value as a quoted, escaped JSON string literal, for bodies: `{"name": {{json name}}}`.
fn json(name: &str, params: &[PathAndJson<'_>]) -> Result<Value, RenderError> {
    arity(name, params, 1, Some(1))?;
    let s = text(present(&params[0])?);
    Ok(Value::String(Value::String(s).to_string()))
}

/// Go's `print` (fmt.Sprint): operands concatenated, with a space between two operands when
/// neither is a string.
fn print(_: &str, params: &[PathAndJson<'_>]) -> Result<Value, RenderError> {
    let mut out = String::new();
    let mut prev_string = true;
    for (i, p) in params.iter().enumerate() {
        let v = present(p)?;
        let is_string = v.is_string();
        if i > 0 && !is_string && !prev_string {
            out.push(' ');
        }
        out.push_str(&text(v));
        prev_string = is_string;
    }
    Ok(Value::String(out))
}

/// Scalar text used when comparing values of different JSON types (`"3"` equals `3`).
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn loose_eq(a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    match (scalar(a), scalar(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// Go's `eq`: true when the first argument equals any of the others. Missing reads as null.
fn eq(name: &str, params: &[PathAndJson<'_>]) -> Result<Value, RenderError> {
    arity(name, params, 2, None)?;
    let first = lenient(&params[0]);
    Ok(Value::Bool(
        params[1..].iter().any(|p| loose_eq(first, lenient(p))),
    ))
}

fn ne(name: &str, params: &[PathAndJson<'_>]) -> Result<Value, RenderError> {
    arity(name, params, 2, Some(2))?;
    Ok(Value::Bool(!loose_eq(
        lenient(&params[0]),
        lenient(&params[1]),
    )))
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
}

/// Orders two values: numerically when both are numbers (or numeric strings), else as text.
/// `None` when either is missing or not a scalar: the comparison is then false.
fn order(
    name: &str,
    params: &[PathAndJson<'_>],
) -> Result<Option<std::cmp::Ordering>, RenderError> {
    arity(name, params, 2, Some(2))?;
    let (a, b) = (lenient(&params[0]), lenient(&params[1]));
    if let (Some(x), Some(y)) = (number(a), number(b)) {
        return Ok(x.partial_cmp(&y));
    }
    Ok(match (scalar(a), scalar(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => None,
    })
}

fn lt(name: &str, params: &[PathAndJson<'_>]) -> Result<Value, RenderError> {
    Ok(Value::Bool(order(name, params)?.is_some_and(|o| o.is_lt())))
}

fn le(name: &str, params: &[PathAndJson<'_>]) -> Result<Value, RenderError> {
    Ok(Value::Bool(order(name, params)?.is_some_and(|o| o.is_le())))
}

fn gt(name: &str, params: &[PathAndJson<'_>]) -> Result<Value, RenderError> {
    Ok(Value::Bool(order(name, params)?.is_some_and(|o| o.is_gt())))
}

fn ge(name: &str, params: &[PathAndJson<'_>]) -> Result<Value, RenderError> {
    Ok(Value::Bool(order(name, params)?.is_some_and(|o| o.is_ge())))
}

/// Go's `and`: the first falsy argument, or the last one.
fn and(name: &str, params: &[PathAndJson<'_>]) -> Result<Value, RenderError> {
    arity(name, params, 1, None)?;
    let found = params
        .iter()
        .map(lenient)
        .find(|v| !v.is_truthy(false))
        .unwrap_or_else(|| lenient(&params[params.len() - 1]));
    Ok(found.clone())
}

/// Go's `or`: the first truthy argument, or the last one.
fn or(name: &str, params: &[PathAndJson<'_>]) -> Result<Value, RenderError> {
    arity(name, params, 1, None)?;
    let found = params
        .iter()
        .map(lenient)
        .find(|v| v.is_truthy(false))
        .unwrap_or_else(|| lenient(&params[params.len() - 1]));
    Ok(found.clone())
}

fn not(name: &str, params: &[PathAndJson<'_>]) -> Result<Value, RenderError> {
    arity(name, params, 1, Some(1))?;
    Ok(Value::Bool(!lenient(&params[0]).is_truthy(false)))
}
