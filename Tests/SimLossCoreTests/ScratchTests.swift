// Scratch (Support/Scratch.swift): the temporaries of the calls in flight
// are counted against `scratchByteLimit` while they are held, and given back
// on every path, the refused ones included: bytes that are not stay counted
// for the life of the process, and every later call that needs them is
// refused too.
import SimLossCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

// Serialized: two of its tests hold more than half the limit each. (Other
// suites' calls, running meanwhile, need a few megabytes.)
@Suite(.serialized) struct ScratchTests {
  /// `forEachBlock` allocates a block of Doubles, then one of Ints. Here the
  /// Doubles take half the limit (allocated, never touched) and the Ints
  /// more than the other half, so the Ints are refused: twice, after which
  /// a leaked block of Doubles each time would have used up the limit, and
  /// the last call (half the limit of Doubles and one Int) would be refused.
  /// (Until this test, the Doubles of a refused call were neither freed nor
  /// given back.)
  @Test func test_refused_scratch_gives_back_what_it_held() throws {
    let half = testingScratchByteLimit / 2
    for _ in 0..<2 {
      expectError(.outOfMemory, "test: cannot allocate 1 x \(half / 8 + (1 << 17)) Ints") {
        try testingBlockScratch(doubles: half / 8, ints: half / 8 + (1 << 17))
      }
    }
    try testingBlockScratch(doubles: half / 8, ints: 1)
  }

  /// The limit is half the usable memory (the physical memory, or less
  /// under a cgroup memory limit), at most 64 GiB.
  @Test func test_limit_is_half_the_usable_memory() throws {
    let physical = sysconf(Int32(_SC_PHYS_PAGES)) * sysconf(Int32(_SC_PAGESIZE))
    let usable = try #require(testingUsableMemoryBytes)
    #expect(usable > 0 && usable <= physical)
    #expect(testingScratchByteLimit == min(1 << 36, usable / 2))
  }

  /// A result no longer counts against the limit: a Swift caller may keep
  /// results as long as it likes. Holding one of 0.6 of the limit, a call
  /// needing another 0.6 of it runs; were the result still counted, it
  /// would be refused.
  @Test func test_results_held_do_not_count() throws {
    let share = testingScratchByteLimit / 10 * 6 / 8
    let result = try testingResult(count: share)
    try testingBlockScratch(doubles: share, ints: 1)
    #expect(result.buffer.count == share)
  }
}
