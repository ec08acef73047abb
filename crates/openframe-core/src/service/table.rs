//! Table API writes (CONTRACT §9) through the openframe rules: an interaction is created and updated as the
//! openframe endpoints do it (numbers, stamps, state rules, events); a phone log or related record is
//! written through its parent interaction's aggregate, so the parent is stamped and its event names the
//! child collection.

use std::sync::Arc;

use super::{Caller, Planner, Service, set_log_fields, stamp_update};
use crate::aggregate::{AggregateChange, InteractionAggregate};
use crate::datetime::DateTime;
use crate::error::{Error, Result};
use crate::query::TableQuery;
use crate::record::Record;
use crate::request::{PhoneLogEntry, RelatedRecordRef, VoiceInteractionRequest};
use crate::schema::{FieldKind, INTERACTION, PHONE_LOG, Table, field};
use crate::sys_id::SysId;
use crate::table_write::TableWrite;

impl Service {
    /// Resolves the references `write` gives by display value: a `sys_user` by its user name, an
    /// `interaction` by its number. Any other, or one that names nothing, is a 400 naming the field.
    pub async fn resolve_references(&self, write: &mut TableWrite) -> Result<()> {
        for name in std::mem::take(&mut write.unresolved) {
            let Some((_, def)) = write.table.field(name) else {
                continue;
            };
            let FieldKind::Reference(target) = def.kind else {
                continue;
            };
            let given = write.get(name).unwrap_or_default().to_owned();
            let found = match target {
                "sys_user" => self
                    .repo
                    .find_user(&given)
                    .await?
                    .map(|u| u.sys_id.as_str().to_owned()),
                "interaction" => self.interaction_by_number(&given).await?,
                _ => None,
            };
            let Some(sys_id) = found else {
                return Err(Error::invalid(
                    name,
                    format!(
                        "{}, or the display value of a {target} record",
                        def.kind.rule()
                    ),
                ));
            };
            if let Some(slot) = write.fields.iter_mut().find(|(k, _)| *k == name) {
                slot.1 = sys_id;
            }
        }
        Ok(())
    }

    async fn interaction_by_number(&self, number: &str) -> Result<Option<String>> {
        // A number is letters and digits: anything else would be read as more of the query.
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(None);
        }
        let mut query = TableQuery::parse(
            &INTERACTION,
            Some(&format!("number={number}")),
            Some("1"),
            None,
        )?;
        query.count = false;
        let page = self.repo.query_records(&query).await?;
        Ok(page.records.first().map(|r| r.sys_id().to_owned()))
    }

    /// Creates the record `write` describes (Table API `POST`) and returns it as stored. An interaction is
    /// created as the openframe create does it; a phone log or related record is added to its parent as an
    /// openframe update's `phoneLogs` / `relatedRecords` entry is (a log whose `call_id` the parent has is
    /// that log updated; a related record the parent has is returned as it is).
    pub async fn table_create(&self, caller: &Caller, mut write: TableWrite) -> Result<Record> {
        self.resolve_references(&mut write).await?;
        let table = write.table;
        if table == &INTERACTION {
            let req = VoiceInteractionRequest {
                interaction: write.fields,
                ..Default::default()
            };
            let created = self.create(caller, req).await.map_err(table_field)?;
            return self.stored(&INTERACTION, &created.sys_id).await;
        }
        let parent = write.take(field::INTERACTION).unwrap_or_default();
        let parent =
            SysId::parse(&parent).map_err(|rule| Error::invalid(field::INTERACTION, rule))?;
        let mut req = VoiceInteractionRequest::default();
        if table == &PHONE_LOG {
            req.phone_logs.push(PhoneLogEntry {
                fields: write.fields,
            });
        } else {
            req.related_records.push(RelatedRecordRef {
                document_table: write
                    .get(field::DOCUMENT_TABLE)
                    .unwrap_or_default()
                    .to_owned(),
                document_id: write.get(field::DOCUMENT_ID).unwrap_or_default().to_owned(),
            });
        }
        let change = self
            .update(caller, &parent, req.clone())
            .await
            .map_err(|e| table_field(no_parent(e, &parent)))?;
        if let Some(log) = change.phone_logs.first() {
            return Ok(log.clone());
        }
        if let Some(related) = change.related_records.first() {
            return Ok(related.clone());
        }
        // A related record the interaction already had: the one it has.
        let wanted = &req.related_records[0];
        self.read(&parent)
            .await?
            .related_records
            .into_iter()
            .find(|r| {
                r.get(field::DOCUMENT_TABLE) == wanted.document_table
                    && r.get(field::DOCUMENT_ID) == wanted.document_id
            })
            .ok_or(Error::NotFound { what: "record" })
    }

    /// Updates record `sys_id` of `write.table` (Table API `PUT`/`PATCH`) and returns it as stored. A write
    /// naming no field changes nothing and returns the record as it is. [`Error::NotFound`] when there is
    /// no such record.
    pub async fn table_update(
        &self,
        caller: &Caller,
        sys_id: &SysId,
        mut write: TableWrite,
    ) -> Result<Record> {
        let table = write.table;
        let current = self.stored(table, sys_id).await?;
        if write.fields.is_empty() && write.unresolved.is_empty() {
            return Ok(current);
        }
        self.resolve_references(&mut write).await?;
        if table == &INTERACTION {
            let req = VoiceInteractionRequest {
                interaction: write.fields,
                ..Default::default()
            };
            let change = self
                .update(caller, sys_id, req)
                .await
                .map_err(table_field)?;
            return Ok(change.interaction);
        }
        // Only a phone log has fields an update may name (TableWrite refuses a related record's).
        let parent = parent_of(&current)?;
        let (log_id, fields) = (sys_id.as_str().to_owned(), write.fields);
        let user_name = caller.user_name.clone();
        let change = self
            .change_child(caller, &parent, move |current, change, now| {
                let Some(stored) = current.phone_logs.iter().find(|l| l.sys_id() == log_id) else {
                    return Err(Error::NotFound { what: "record" });
                };
                let mut log = stored.clone();
                stamp_update(&mut log, &user_name, now);
                set_log_fields(&mut log, &fields, "")?;
                let call_id = log.get(field::CALL_ID);
                if !call_id.is_empty()
                    && current
                        .phone_logs
                        .iter()
                        .any(|l| l.sys_id() != log_id && l.get(field::CALL_ID) == call_id)
                {
                    return Err(Error::invalid(
                        field::CALL_ID,
                        "another phone log of this interaction has this call_id",
                    ));
                }
                change.phone_logs.push(log);
                Ok(())
            })
            .await?;
        change
            .phone_logs
            .into_iter()
            .next()
            .ok_or(Error::NotFound { what: "record" })
    }

    /// Deletes record `sys_id` of `table` (Table API `DELETE`): an interaction with everything under it, or
    /// one phone log or related record through its parent. [`Error::NotFound`] when there is no such record.
    pub async fn table_delete(
        &self,
        caller: &Caller,
        table: &'static Table,
        sys_id: &SysId,
    ) -> Result<()> {
        if table == &INTERACTION {
            self.repo.delete_interaction(sys_id).await?;
            self.committed();
            return Ok(());
        }
        let current = self.stored(table, sys_id).await?;
        let parent = parent_of(&current)?;
        let id = sys_id.as_str().to_owned();
        self.change_child(caller, &parent, move |current, change, _| {
            let (children, removed) = if table == &PHONE_LOG {
                (&current.phone_logs, &mut change.removed.phone_logs)
            } else {
                (
                    &current.related_records,
                    &mut change.removed.related_records,
                )
            };
            if !children.iter().any(|r| r.sys_id() == id) {
                return Err(Error::NotFound { what: "record" });
            }
            removed.insert(id.clone());
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// Record `sys_id` of `table` as stored; [`Error::NotFound`] when there is none.
    async fn stored(&self, table: &'static Table, sys_id: &SysId) -> Result<Record> {
        self.repo
            .read_record(table, sys_id)
            .await?
            .ok_or(Error::NotFound { what: "record" })
    }

    /// Updates interaction `parent` with a change to one of its children that `edit` makes, the interaction
    /// itself stamped as every update stamps it. A parent gone meanwhile is the child's [`Error::NotFound`].
    async fn change_child<F>(
        &self,
        caller: &Caller,
        parent: &SysId,
        edit: F,
    ) -> Result<AggregateChange>
    where
        F: Fn(&InteractionAggregate, &mut AggregateChange, DateTime) -> Result<()>
            + Send
            + Sync
            + 'static,
    {
        let now = self.env.now();
        let (caller, env) = (caller.clone(), Arc::clone(&self.env));
        let plan = move |current: &InteractionAggregate| {
            // The planner with an empty request stamps the interaction and changes nothing else.
            let mut change = Planner {
                caller: &caller,
                now,
                env: env.as_ref(),
                provider: None,
                is_update: true,
            }
            .change(current, &VoiceInteractionRequest::default())?;
            edit(current, &mut change, now)?;
            Ok(change)
        };
        let change = self
            .repo
            .update_interaction(parent, Box::new(plan))
            .await
            .map_err(|e| match e {
                Error::NotFound { .. } => Error::NotFound { what: "record" },
                e => e,
            })?;
        self.committed();
        Ok(change)
    }
}

/// The interaction a stored child belongs to.
fn parent_of(child: &Record) -> Result<SysId> {
    SysId::parse(child.get(field::INTERACTION)).map_err(|_| {
        Error::internal(format!(
            "{} {} names no interaction",
            child.table().name,
            child.sys_id()
        ))
    })
}

/// A create of a child whose parent does not exist: a 400 naming `interaction`, not a 404 of the path.
fn no_parent(e: Error, parent: &SysId) -> Error {
    match e {
        Error::NotFound { .. } => Error::invalid(
            field::INTERACTION,
            format!("no interaction has sys_id {parent}"),
        ),
        e => e,
    }
}

/// An openframe rule's error in the Table API's words: the field of the record written, not the path in an
/// openframe body (`interaction.inboundId` is `inbound_id`; a phone-log entry's `phoneLogs[0].end_time` is
/// `end_time`; the per-interaction limits of `phoneLogs`/`relatedRecords` are the parent's, `interaction`).
fn table_field(e: Error) -> Error {
    match e {
        Error::Invalid { field: path, rule } => {
            let field = match path.as_str() {
                "interaction.inboundId" => field::INBOUND_ID.to_owned(),
                "phoneLogs" | "relatedRecords" => field::INTERACTION.to_owned(),
                other => other
                    .strip_prefix("phoneLogs[0].")
                    .unwrap_or(other)
                    .to_owned(),
            };
            Error::Invalid { field, rule }
        }
        e => e,
    }
}
