//! `conformance_tests!`: one `#[test]` per suite function, plus the model-based test, for a store factory.

/// Expands, in a store crate's test file, to one test per conformance function — named like the
/// function, so failures are reported one by one — plus `model_based`, each on a fresh store from
/// `$factory`, an `async fn() -> openframe_core::conformance::TestStore` or, for a store that may not be
/// available, `-> Option<TestStore>`: on `None` each test prints `SKIPPED` on standard error and passes
/// without running anything (see [`IntoTestStore`](crate::conformance::IntoTestStore)).
///
/// Every test runs on its own multi-thread tokio runtime with two workers (what
/// `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]` builds), made through `openframe_core`, so
/// the calling crate needs nothing but `openframe-core` with the `conformance` feature. The store is kept
/// until the test ends, and dropped inside the runtime.
///
/// ```no_run
/// async fn make_store() -> openframe_core::conformance::TestStore {
///     openframe_core::conformance::TestStore::new(std::sync::Arc::new(openframe_core::MemoryRepository::new()))
/// }
/// openframe_core::conformance_tests!(make_store);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($factory:path) => {
        $crate::__conformance_test!($factory;
            create_then_load,
            numbers_increase_by_one,
            create_with_taken_sys_id_is_conflict,
            taken_child_sys_ids_are_conflicts,
            load_of_unknown_is_none,
            update_applies_the_change,
            update_of_unknown_is_not_found,
            rejected_update_writes_nothing,
            children_are_capped_per_interaction,
            updates_match_the_reference,
            phone_logs_keep_creation_order,
            values_round_trip_exactly,
            delete_takes_everything_under_the_interaction,
            deleting_a_child_leaves_its_siblings,
            users_round_trip,
            users_by_sys_id,
            display_values_match_the_reference,
            display_values_look_up_only_the_fields_shown,
            dot_walked_conditions_match_the_reference,
            walked_fields_match_the_reference,
            duplicate_user_name_is_conflict,
            users_change_and_go,
            oauth_clients_round_trip,
            oauth_tokens_round_trip_and_prune,
            provider_applications_round_trip,
            duplicate_inbound_id_is_conflict,
            ping_answers,
            read_record_by_table,
            query_operators_on_every_table,
            query_or_groups,
            query_order_and_ties,
            query_paging_and_totals,
            query_awkward_values,
            query_indexed_fields_among_many,
            query_of_any_size_is_answered,
            query_platform_operators,
            aggregate_counts_and_groups,
            aggregate_awkward_text,
            aggregate_random_requests,
            concurrent_creates_get_distinct_numbers,
            concurrent_updates_all_land,
            concurrent_duplicates_conflict,
            export_reads_everything_in_order,
            import_then_export_gives_the_dump,
            conflicting_import_writes_nothing,
            events_follow_every_write,
            events_are_in_commit_order_under_concurrency,
            pruning_moves_the_horizon,
        );

        #[test]
        fn model_based() {
            $crate::conformance::__private::run(async {
                $crate::conformance::model_based($factory, $crate::conformance::default_cases())
                    .await;
            });
        }
    };
}

/// One test per named suite function; used by [`conformance_tests!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_test {
    ($factory:path; $($name:ident),+ $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::conformance::__private::run(async {
                    let test = ::core::concat!(::core::module_path!(), "::", ::core::stringify!($name));
                    let Some(store) = $crate::conformance::__private::available($factory().await, test)
                    else {
                        return;
                    };
                    $crate::conformance::$name(&store.repo).await;
                    ::core::mem::drop(store);
                });
            }
        )+
    };
}
