//! Database migrations, one file each. A landed migration is never edited: a
//! change to the schema is a new migration.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_foundation;
mod m20261123_000002_controls;
mod m20261123_000003_filter_indexes;
mod m20261201_000004_cell_counts;
mod m20261201_000005_redundant_indexes;
mod m20261201_000006_open_cell_counts;
mod m20261201_000007_api_keys;
mod m20261202_000008_write_light_risks;
mod m20261203_000009_reference_notify;
mod m20261203_000010_leaner_risk_indexes;
mod m20261203_000011_risk_scores;
mod m20261203_000012_view_risks_id;
mod m20261204_000013_facet_counts;
mod m20261204_000014_reference_notify_org;
mod m20261204_000015_org_orders_with_id;
mod m20261204_000016_cell_order_indexes;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_foundation::Migration),
            Box::new(m20261123_000002_controls::Migration),
            Box::new(m20261123_000003_filter_indexes::Migration),
            Box::new(m20261201_000004_cell_counts::Migration),
            Box::new(m20261201_000005_redundant_indexes::Migration),
            Box::new(m20261201_000006_open_cell_counts::Migration),
            Box::new(m20261201_000007_api_keys::Migration),
            Box::new(m20261202_000008_write_light_risks::Migration),
            Box::new(m20261203_000009_reference_notify::Migration),
            Box::new(m20261203_000010_leaner_risk_indexes::Migration),
            Box::new(m20261203_000011_risk_scores::Migration),
            Box::new(m20261203_000012_view_risks_id::Migration),
            Box::new(m20261204_000013_facet_counts::Migration),
            Box::new(m20261204_000014_reference_notify_org::Migration),
            Box::new(m20261204_000015_org_orders_with_id::Migration),
            Box::new(m20261204_000016_cell_order_indexes::Migration),
        ]
    }
}
