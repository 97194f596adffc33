import CKernels
import COpenBLAS
import XCTest
@testable import Transformer

/// Which OpenBLAS core the program asks for when the library fell back to kernels older than the CPU.
final class BLASCoreTests: XCTestCase {
    func testAsksOnlyWhenOpenBLASFellBackAndNeverOverTheUsersChoice() {
        let loaded = String(cString: openblas_get_corename()).lowercased()
        let fellBack = ["prescott", "core2", "penryn", "dunnington", "nehalem", "unknown"].contains(loaded)
        let request = openBLASCoreToRequest(environment: [:])
        switch (fellBack, pk_best_level()) {
        case (true, Int32(PK_AVX512)): XCTAssertEqual(request, "SkylakeX", "OpenBLAS loaded \(loaded)")
        case (true, Int32(PK_AVX2)): XCTAssertEqual(request, "Haswell", "OpenBLAS loaded \(loaded)")
        default: XCTAssertNil(request, "OpenBLAS loaded \(loaded)")
        }
        XCTAssertNil(openBLASCoreToRequest(environment: ["OPENBLAS_CORETYPE": "Haswell"]))
    }
}
