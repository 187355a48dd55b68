//! Report tables and their three renderings: CSV, JSON (an array of objects
//! keyed by column name) and an XLSX workbook.

use rust_xlsxwriter::{Format, Workbook};
use serde_json::{Map, Value};

use crate::billing::format_cents;

#[derive(Debug, Clone)]
pub enum Cell {
    Text(String),
    /// Hundredths of the currency unit.
    Money(i64),
}

#[derive(Debug, Clone)]
pub struct Table {
    pub sheet: &'static str,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Csv,
    Json,
    Xlsx,
}

impl ReportFormat {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "csv" => Some(ReportFormat::Csv),
            "json" => Some(ReportFormat::Json),
            "xlsx" => Some(ReportFormat::Xlsx),
            _ => None,
        }
    }

    /// The content types of the API guide's report tables.
    pub fn content_type(self) -> &'static str {
        match self {
            ReportFormat::Csv => "text/csv",
            ReportFormat::Json => "application/json",
            ReportFormat::Xlsx => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ReportFormat::Csv => "csv",
            ReportFormat::Json => "json",
            ReportFormat::Xlsx => "xlsx",
        }
    }
}

pub fn render(table: &Table, format: ReportFormat) -> anyhow::Result<Vec<u8>> {
    match format {
        ReportFormat::Csv => render_csv(table),
        ReportFormat::Json => render_json(table),
        ReportFormat::Xlsx => render_xlsx(table),
    }
}

fn render_csv(table: &Table) -> anyhow::Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&table.columns)?;
    for row in &table.rows {
        writer.write_record(row.iter().map(|cell| match cell {
            Cell::Text(text) => text.clone(),
            Cell::Money(cents) => format_cents(*cents),
        }))?;
    }
    Ok(writer.into_inner()?)
}

fn render_json(table: &Table) -> anyhow::Result<Vec<u8>> {
    let rows: Vec<Value> = table
        .rows
        .iter()
        .map(|row| {
            let object: Map<String, Value> = table
                .columns
                .iter()
                .zip(row)
                .map(|(column, cell)| {
                    let value = match cell {
                        Cell::Text(text) => Value::String(text.clone()),
                        // A decimal number, exact to the cent once printed.
                        Cell::Money(cents) => {
                            serde_json::from_str(&format_cents(*cents)).unwrap_or(Value::Null)
                        }
                    };
                    (column.to_string(), value)
                })
                .collect();
            Value::Object(object)
        })
        .collect();
    Ok(serde_json::to_vec(&rows)?)
}

fn render_xlsx(table: &Table) -> anyhow::Result<Vec<u8>> {
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();
    let money = Format::new().set_num_format("0.00");
    let sheet = workbook.add_worksheet();
    sheet.set_name(table.sheet)?;
    for (col, name) in table.columns.iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, *name, &bold)?;
        sheet.set_column_width(col as u16, 22)?;
    }
    for (index, row) in table.rows.iter().enumerate() {
        let r = index as u32 + 1;
        for (col, cell) in row.iter().enumerate() {
            match cell {
                Cell::Text(text) => {
                    sheet.write_string(r, col as u16, text)?;
                }
                Cell::Money(cents) => {
                    sheet.write_number_with_format(r, col as u16, *cents as f64 / 100.0, &money)?;
                }
            }
        }
    }
    Ok(workbook.save_to_buffer()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table {
            sheet: "Test",
            columns: vec!["name", "amount"],
            rows: vec![vec![Cell::Text("a, \"b\"".into()), Cell::Money(150)]],
        }
    }

    #[test]
    fn csv_quotes_and_formats_money() {
        let csv = String::from_utf8(render(&table(), ReportFormat::Csv).unwrap()).unwrap();
        assert_eq!(csv, "name,amount\n\"a, \"\"b\"\"\",1.50\n");
    }

    #[test]
    fn json_is_objects_by_column() {
        let json: Value =
            serde_json::from_slice(&render(&table(), ReportFormat::Json).unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!([{"name": "a, \"b\"", "amount": 1.5}])
        );
    }

    #[test]
    fn formats_parse() {
        assert_eq!(ReportFormat::parse("XLSX"), Some(ReportFormat::Xlsx));
        assert_eq!(ReportFormat::parse("pdf"), None);
    }
}
