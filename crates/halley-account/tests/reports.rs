//! Reports over HTTP: both reports in CSV, JSON and XLSX (the workbook read
//! back with a spreadsheet reader), the billing model behind them, and the
//! API guide's error rows.

mod common;

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use common::{Portal, EMAIL};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const ACTIVE: &str = "/api/v1/report/active_services";
const BILLING: &str = "/api/v1/report/billing_history";

fn sheet_rows(bytes: &[u8]) -> (String, Vec<Vec<Data>>) {
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes.to_vec())).expect("a workbook");
    let name = workbook.sheet_names()[0].clone();
    let range = workbook.worksheet_range(&name).expect("first sheet");
    (name, range.rows().map(|r| r.to_vec()).collect())
}

#[tokio::test]
async fn reports_in_three_formats_reflect_the_billing_model() {
    let portal = Portal::start_with(&["--license-price", "0.75", "--hosted-price", "4"]);
    let mut serials = Vec::new();
    for _ in 0..2 {
        serials.push(portal.call("/api/v1/license/create", &[]).await.text());
    }
    portal
        .call("/api/v1/license/archive", &[("serial", &serials[1])])
        .await;

    // JSON: only the serial that is not archived is active.
    let json = portal.call(ACTIVE, &[("format", "json")]).await;
    assert_eq!(json.status, 200, "{}", json.text());
    assert!(json.content_type().starts_with("application/json"));
    let active = json.json();
    let active = active.as_array().unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0]["service_type"], "license");
    assert_eq!(active[0]["service_id"], serials[0].as_str());
    assert_eq!(active[0]["daily_price"], 0.75);

    // Billing: each serial is charged for today (the archived one too: it was
    // active today), once, however often the report runs.
    for _ in 0..2 {
        let billing = portal.call(BILLING, &[("format", "json")]).await;
        assert_eq!(billing.status, 200);
        let rows = billing.json();
        let rows = rows.as_array().unwrap();
        assert_eq!(rows.len(), 2, "{rows:?}");
        for row in rows {
            assert_eq!(row["amount"], 0.75);
            assert_eq!(row["service_type"], "license");
            assert_eq!(row["date"].as_str().unwrap().len(), 10);
        }
    }

    // CSV.
    let csv = portal.call(ACTIVE, &[("format", "csv")]).await;
    assert_eq!(csv.status, 200);
    assert!(csv.content_type().starts_with("text/csv"));
    let text = csv.text();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("service_type,service_id,description,started_at,daily_price")
    );
    let row = lines.next().unwrap();
    assert!(
        row.starts_with(&format!("license,{},", serials[0])),
        "{row}"
    );
    assert!(row.ends_with(",0.75"), "{row}");
    assert_eq!(lines.next(), None);
    let csv = portal.call(BILLING, &[("format", "CSV")]).await;
    assert!(csv.content_type().starts_with("text/csv"));
    assert_eq!(csv.text().lines().count(), 3);

    // XLSX, read back as a spreadsheet program would.
    let xlsx = portal.call(ACTIVE, &[("format", "xlsx")]).await;
    assert_eq!(xlsx.status, 200);
    assert_eq!(xlsx.content_type(), XLSX);
    let (name, rows) = sheet_rows(&xlsx.body);
    assert_eq!(name, "Active services");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][0], Data::String("service_type".into()));
    assert_eq!(rows[1][1], Data::String(serials[0].clone()));
    assert_eq!(rows[1][4], Data::Float(0.75));
    let xlsx = portal.call_password(BILLING, &[("format", "xlsx")]).await;
    assert_eq!(xlsx.content_type(), XLSX);
    let (name, rows) = sheet_rows(&xlsx.body);
    assert_eq!(name, "Credit usage");
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[0],
        [
            "date",
            "service_type",
            "service_id",
            "description",
            "amount"
        ]
        .map(|c| Data::String(c.into()))
        .to_vec()
    );
    assert_eq!(rows[1][4], Data::Float(0.75));
}

#[tokio::test]
async fn reports_answer_the_seed_error_rows() {
    let portal = Portal::start();
    for path in [ACTIVE, BILLING] {
        portal
            .call(path, &[("format", "pdf")])
            .await
            .assert_text_error(400, "Invalid or missing parameter: format");
        portal
            .call(path, &[])
            .await
            .assert_text_error(400, "Invalid or missing parameter: format");
        portal
            .post(path, &[("format", "json")])
            .await
            .assert_text_error(400, "Invalid or missing parameter: email");
        portal
            .post(
                path,
                &[("email", EMAIL), ("password", "wrong"), ("format", "json")],
            )
            .await
            .assert_text_error(403, "Invalid credentials");
        portal
            .post(
                path,
                &[
                    ("authType", "apiToken"),
                    ("apiToken", "hat_nope"),
                    ("format", "csv"),
                ],
            )
            .await
            .assert_text_error(403, "Invalid credentials");
    }
}
