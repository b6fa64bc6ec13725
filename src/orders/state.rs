//! The work-order state machine (`docs/orders.md` has the diagram).
//!
//! Pure: the only place that decides which step may follow which. The camera (rules), the
//! centre (commands) and the verifier all ask [`next`] before they change an order.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// The problem is there; nobody has acted yet.
    Open,
    /// The centre sent a team.
    Dispatched,
    /// The team reports it handled; verification follows at once.
    Handled,
    /// The box is looking through the camera again.
    Verifying,
    /// Verified gone (or closed by the centre). Final.
    Closed,
    /// Verification found the problem still there; severity went up; awaits dispatch.
    Reopened,
    /// The centre marked it a false alarm. Final.
    Cancelled,
    /// The problem went away before anyone was dispatched; the centre may close it
    /// (`[orders] close_when_cleared` closes it at once).
    Cleared,
    /// The box warned on site (voice prompt); after a grace period it looks again: gone closes
    /// the order as resolved on site, still there escalates it. The centre may act meanwhile.
    Warned,
    /// The on-site warning did not resolve it; severity went up; awaits dispatch.
    Escalated,
}

impl OrderState {
    pub fn as_str(&self) -> &'static str {
        match self {
            OrderState::Open => "open",
            OrderState::Dispatched => "dispatched",
            OrderState::Handled => "handled",
            OrderState::Verifying => "verifying",
            OrderState::Closed => "closed",
            OrderState::Reopened => "reopened",
            OrderState::Cancelled => "cancelled",
            OrderState::Cleared => "cleared",
            OrderState::Warned => "warned",
            OrderState::Escalated => "escalated",
        }
    }

    /// No step leaves a final state.
    pub fn is_final(&self) -> bool {
        matches!(self, OrderState::Closed | OrderState::Cancelled)
    }

    pub const ALL: [OrderState; 10] = [
        OrderState::Open,
        OrderState::Dispatched,
        OrderState::Handled,
        OrderState::Verifying,
        OrderState::Closed,
        OrderState::Reopened,
        OrderState::Cancelled,
        OrderState::Cleared,
        OrderState::Warned,
        OrderState::Escalated,
    ];
}

/// Something that wants to move an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// Centre: a team is on its way.
    Dispatch,
    /// Centre: the team says it is done.
    Handled,
    /// Centre asks for a re-check, or the box starts the one that follows `handled`.
    Verify,
    /// Centre: false alarm.
    Cancel,
    /// Centre: close it (accept a clearance, or end it whatever the verification said).
    Close,
    /// Rules: the problem is no longer seen.
    RuleCleared,
    /// Verifier: nothing there for the window.
    VerifiedGone,
    /// Verifier: still there.
    VerifiedPresent,
    /// Verifier: could not look (camera offline); stays verifying, retried later.
    Inconclusive,
    /// Box: a voice warning was given on site; the on-site re-check follows the grace period.
    Warn,
    /// Verifier, on-site re-check: still there after the warning; to the centre.
    Escalate,
}

impl Step {
    pub fn as_str(&self) -> &'static str {
        match self {
            Step::Dispatch => "dispatch",
            Step::Handled => "handled",
            Step::Verify => "verify",
            Step::Cancel => "cancel",
            Step::Close => "close",
            Step::RuleCleared => "cleared",
            Step::VerifiedGone => "verified_gone",
            Step::VerifiedPresent => "verified_present",
            Step::Inconclusive => "inconclusive",
            Step::Warn => "warned",
            Step::Escalate => "escalated",
        }
    }

    pub const ALL: [Step; 11] = [
        Step::Dispatch,
        Step::Handled,
        Step::Verify,
        Step::Cancel,
        Step::Close,
        Step::RuleCleared,
        Step::VerifiedGone,
        Step::VerifiedPresent,
        Step::Inconclusive,
        Step::Warn,
        Step::Escalate,
    ];
}

/// Why a step was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {step} an order that is {state}: {why}")]
pub struct Refusal {
    pub state: &'static str,
    pub step: &'static str,
    pub why: &'static str,
}

/// The state after `step`, or why the step is not allowed from `state`.
pub fn next(state: OrderState, step: Step) -> Result<OrderState, Refusal> {
    use OrderState as S;
    let to = match (state, step) {
        (S::Open | S::Reopened | S::Warned | S::Escalated, Step::Dispatch) => S::Dispatched,
        // Re-dispatch (another team, a new due time) is a correction, not a new loop.
        (S::Dispatched, Step::Dispatch) => S::Dispatched,
        (S::Dispatched | S::Reopened, Step::Handled) => S::Handled,
        (
            S::Open
            | S::Dispatched
            | S::Handled
            | S::Reopened
            | S::Cleared
            | S::Warned
            | S::Escalated,
            Step::Verify,
        ) => S::Verifying,
        (S::Open | S::Dispatched | S::Warned | S::Escalated, Step::Cancel) => S::Cancelled,
        (S::Cleared | S::Handled | S::Verifying | S::Reopened | S::Escalated, Step::Close) => {
            S::Closed
        }
        (S::Open, Step::Warn) => S::Warned,
        // A repeated warning (the prompt played again at a higher severity) changes nothing.
        (S::Warned, Step::Warn) => S::Warned,
        (S::Verifying, Step::Escalate) => S::Escalated,
        (S::Open, Step::RuleCleared) => S::Cleared,
        (S::Verifying, Step::VerifiedGone) => S::Closed,
        (S::Verifying, Step::VerifiedPresent) => S::Reopened,
        (S::Verifying, Step::Inconclusive) => S::Verifying,
        _ => {
            return Err(Refusal {
                state: state.as_str(),
                step: step.as_str(),
                why: why_not(state, step),
            })
        }
    };
    Ok(to)
}

fn why_not(state: OrderState, step: Step) -> &'static str {
    use OrderState as S;
    if state.is_final() {
        return "the order is final";
    }
    match step {
        Step::Dispatch => "only open, warned, escalated or reopened orders are dispatched",
        Step::Handled => "only a dispatched order can be reported handled",
        Step::Verify => "it is already being verified",
        Step::Cancel => {
            "only open, warned, escalated or dispatched orders can be cancelled as false alarms"
        }
        Step::Close if state == S::Open || state == S::Dispatched => {
            "it has not been handled or cleared yet (cancel a false alarm instead)"
        }
        Step::Close => "it is not waiting to be closed",
        Step::RuleCleared => "only an open order clears by itself",
        Step::VerifiedGone | Step::VerifiedPresent | Step::Inconclusive | Step::Escalate => {
            "it is not being verified"
        }
        Step::Warn => "only an open order is warned on site (the centre has it already)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderState as S;

    #[test]
    fn the_closed_loop_and_its_reopening() {
        let mut s = S::Open;
        for (step, want) in [
            (Step::Dispatch, S::Dispatched),
            (Step::Handled, S::Handled),
            (Step::Verify, S::Verifying),
            (Step::VerifiedPresent, S::Reopened),
            (Step::Dispatch, S::Dispatched),
            (Step::Handled, S::Handled),
            (Step::Verify, S::Verifying),
            (Step::Inconclusive, S::Verifying),
            (Step::VerifiedGone, S::Closed),
        ] {
            s = next(s, step).unwrap();
            assert_eq!(s, want, "after {step:?}");
        }
    }

    #[test]
    fn final_states_refuse_everything_with_a_reason() {
        for state in [S::Closed, S::Cancelled] {
            for step in Step::ALL {
                let refusal = next(state, step).unwrap_err();
                assert_eq!(refusal.why, "the order is final");
                assert!(refusal.to_string().contains(state.as_str()));
            }
        }
    }

    #[test]
    fn an_on_site_warning_resolves_or_escalates() {
        let warned = next(S::Open, Step::Warn).unwrap();
        assert_eq!(warned, S::Warned);
        assert_eq!(next(warned, Step::Warn), Ok(S::Warned));
        let checking = next(warned, Step::Verify).unwrap();
        assert_eq!(next(checking, Step::VerifiedGone), Ok(S::Closed));
        let escalated = next(checking, Step::Escalate).unwrap();
        assert_eq!(escalated, S::Escalated);
        assert_eq!(next(escalated, Step::Dispatch), Ok(S::Dispatched));
        assert_eq!(
            next(warned, Step::Dispatch),
            Ok(S::Dispatched),
            "the centre may act early"
        );
        assert_eq!(next(warned, Step::Cancel), Ok(S::Cancelled));
        assert!(
            next(S::Dispatched, Step::Warn).is_err(),
            "the centre has it"
        );
        assert!(
            next(warned, Step::RuleCleared).is_err(),
            "the on-site re-check decides, not the rule"
        );
        assert!(next(S::Open, Step::Escalate).is_err());
    }

    #[test]
    fn false_alarms_and_clearances() {
        assert_eq!(next(S::Open, Step::Cancel), Ok(S::Cancelled));
        assert_eq!(next(S::Dispatched, Step::Cancel), Ok(S::Cancelled));
        assert!(next(S::Handled, Step::Cancel).is_err());
        assert_eq!(next(S::Open, Step::RuleCleared), Ok(S::Cleared));
        assert!(next(S::Dispatched, Step::RuleCleared).is_err());
        assert_eq!(next(S::Cleared, Step::Close), Ok(S::Closed));
        let e = next(S::Open, Step::Close).unwrap_err();
        assert!(e.why.contains("cancel"), "{e}");
        assert!(next(S::Open, Step::Handled).is_err());
    }
}
