use super::*;

const CVRP: &str = "NAME : tiny\nTYPE : CVRP\nDIMENSION : 4\nEDGE_WEIGHT_TYPE : EUC_2D\nCAPACITY : 10\nNODE_COORD_SECTION\n1 0 0\n2 3 4\n3 0 1.5\n4 -3 -4\nDEMAND_SECTION\n1 0\n2 5\n3 5\n4 5\nDEPOT_SECTION\n1\n-1\nEOF\n";

#[test]
fn reads_cvrp_with_each_rounding() {
    let i = parse(CVRP, Rounding::Round).unwrap();
    assert_eq!(i.name, "tiny");
    assert_eq!(i.data.num_clients(), 3);
    assert_eq!(i.data.profiles[0].distance.get(0, 2), 2); // 1.5 rounds to 2
    assert_eq!(i.data.vehicle_types[0].count, 3); // no VEHICLES: one per client
    let d = parse(CVRP, Rounding::Dimacs).unwrap();
    assert_eq!((d.data.profiles[0].distance.get(0, 1), d.scale), (50, 10));
    let e = parse(CVRP, Rounding::Exact).unwrap();
    assert_eq!(e.data.profiles[0].distance.get(0, 2), 1500);
    let n = parse(CVRP, Rounding::None).unwrap();
    assert_eq!(n.data.profiles[0].distance.get(0, 2), 1);
}

#[test]
fn malformed_files_name_the_line() {
    let bad = CVRP.replace("3 0 1.5", "3 0 x");
    let err = parse(&bad, Rounding::Round).unwrap_err().to_string();
    assert!(err.contains("line 9"), "{err}");
    let bad = CVRP.replace("DEMAND_SECTION\n1 0\n", "DEMAND_SECTION\n1\n");
    let err = parse(&bad, Rounding::Round).unwrap_err().to_string();
    assert!(
        err.contains("line 12") && err.contains("DEMAND_SECTION"),
        "{err}"
    );
    let err = parse("NAME : x\nhello\n", Rounding::Round)
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2"), "{err}");
}

#[test]
fn reads_solomon_text_and_explicit_matrices() {
    let sol = "R0\n\nVEHICLE\nNUMBER     CAPACITY\n  2         50\n\nCUSTOMER\nCUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME\n\n    0      0         0          0          0       100          0\n    1      3         4         10          5        50         10\n";
    let i = parse(sol, Rounding::Dimacs).unwrap();
    assert_eq!(i.data.clients[0].time_windows, vec![(50, 500)]);
    assert_eq!(i.data.clients[0].service, 100);
    assert_eq!(i.data.vehicle_types[0].count, 2);
    let ex = "NAME : e\nDIMENSION : 3\nEDGE_WEIGHT_TYPE : EXPLICIT\nEDGE_WEIGHT_FORMAT : LOWER_ROW\nCAPACITY : 5\nEDGE_WEIGHT_SECTION\n4\n5 6\nDEMAND_SECTION\n1 0\n2 1\n3 1\nDEPOT_SECTION\n1\n-1\n";
    let i = parse(ex, Rounding::Round).unwrap();
    let m = &i.data.profiles[0].distance;
    assert_eq!(
        (m.get(0, 1), m.get(1, 0), m.get(0, 2), m.get(1, 2)),
        (4, 4, 5, 6)
    );
}

#[test]
fn writes_solutions() {
    use crate::routing::solution::{Route, Solution};
    // vehicle type 0 stands for vehicles 0 and 2, type 1 for vehicle 1; locations written +10
    let s = Solution {
        routes: vec![
            Route {
                vehicle_type: 0,
                visits: vec![1, 2],
            },
            Route {
                vehicle_type: 0,
                visits: vec![3],
            },
        ],
    };
    let numbers: Vec<usize> = (10..20).collect();
    assert_eq!(
        write_solution(&s, &[vec![0, 2], vec![1]], &numbers, 42.0).unwrap(),
        "Route #1: 11 12\nRoute #2:\nRoute #3: 13\nCost 42\n"
    );
    assert!(write_solution(&s, &[vec![0], vec![1]], &numbers, 42.0).is_err());
}
