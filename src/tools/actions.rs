//! The one way the agent can ask for a destructive or bulk change: a proposal that a person
//! approves with a button or through the API.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use super::{ToolContext, ToolError, TypedTool};
use crate::workspace::{action_json, Proposal};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposeArgs {
    pub proposal: Proposal,
    /// Why, in one sentence, for the person who decides.
    pub reason: String,
}

pub struct ProposeAction;

#[async_trait::async_trait]
impl TypedTool for ProposeAction {
    type Args = ProposeArgs;
    const NAME: &'static str = "propose_action";
    const DESCRIPTION: &'static str = "Propose deleting a task, closing a project or moving all open tasks of one person to another. Nothing happens until a person approves it.";

    async fn run(&self, ctx: &ToolContext, args: ProposeArgs) -> Result<Value, ToolError> {
        let action = ctx
            .workspace
            .propose_action(&ctx.actor, args.proposal, &args.reason, ctx.origin.as_ref())
            .await?;
        Ok(action_json(&action))
    }
}
