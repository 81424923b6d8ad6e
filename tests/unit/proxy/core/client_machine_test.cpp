// The client side of the session core, driven by byte fixtures: what the session is told to
// do for the messages real clients send, fed whole, pipelined, and byte by byte.
#include "proxy/core/client_machine.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

#include "byte_fixtures.h"

namespace sg::proxy::core {
namespace {

using namespace fixtures;

// Feeds `input` to the machine the way the session's read loop does (dropping what each step
// consumed) and records the actions until it needs more bytes or closes. Batches are taken at
// each RunBatch, as flush_batch takes them.
struct Driver {
    ClientMachine m;
    std::string buffer;
    std::vector<ClientAction> actions;
    std::vector<TakenBatch> batches;
    std::deque<std::string> kept;  // what recorded actions view (the buffer moves on)

    // An action's views point into the buffer, valid until it changes (as in the session,
    // where they are used before the next read): recorded actions view copies instead.
    ClientAction own(const ClientAction& a) {
        auto keep = [&](std::string_view v) -> std::string_view { return kept.emplace_back(v); };
        if (const auto* q = std::get_if<client::Query>(&a)) {
            std::string_view frame = keep(q->frame);
            return client::Query{
                frame, frame.substr(size_t(q->sql.data() - q->frame.data()), q->sql.size())};
        }
        if (const auto* c = std::get_if<client::Copy>(&a)) return client::Copy{keep(c->chunk)};
        if (const auto* f = std::get_if<client::FunctionCall>(&a))
            return client::FunctionCall{keep(f->frame)};
        return a;
    }

    explicit Driver(bool admin = false, size_t max_message = 1 << 20) {
        m.configure(max_message, admin);
    }
    void feed(std::string_view bytes) {
        buffer += bytes;
        for (;;) {
            ClientStep s = m.step(buffer);
            if (std::holds_alternative<client::NeedMore>(s.action)) return;
            if (std::holds_alternative<client::RunBatch>(s.action)) {
                batches.push_back(m.take_batch({}));
                if (m.skipping() && std::get<client::RunBatch>(s.action).sync) m.stop_skipping();
            }
            actions.push_back(own(s.action));
            buffer.erase(0, s.consumed);
            if (m.closed()) return;
        }
    }
    template <class T>
    const T& at(size_t i) const {
        EXPECT_LT(i, actions.size());
        EXPECT_TRUE(std::holds_alternative<T>(actions.at(i))) << "action " << i;
        return std::get<T>(actions.at(i));
    }
};

TEST(ClientMachine, SimpleQueryGivesItsFrameAndText) {
    Driver d;
    d.feed(query("SELECT 1"));
    ASSERT_EQ(d.actions.size(), 1u);
    const auto& q = d.at<client::Query>(0);
    EXPECT_EQ(q.sql, "SELECT 1");
    EXPECT_EQ(q.frame, query("SELECT 1"));
    EXPECT_TRUE(d.m.idle());
}

TEST(ClientMachine, AFrameFedByteByByteIsSeenOnceWhole) {
    Driver d;
    const std::string q = query("SELECT 42");
    for (char c : q) d.feed(std::string_view(&c, 1));
    ASSERT_EQ(d.actions.size(), 1u);
    EXPECT_EQ(d.at<client::Query>(0).sql, "SELECT 42");
}

TEST(ClientMachine, NeedMoreNamesTheWholeFrameOnceItsHeaderIsIn) {
    ClientMachine m;
    m.configure(1 << 20, false);
    const std::string q = query("SELECT 1");
    auto s = m.step(std::string_view(q).substr(0, 3));
    ASSERT_TRUE(std::holds_alternative<client::NeedMore>(s.action));
    EXPECT_EQ(s.consumed, 0u);
    s = m.step(std::string_view(q).substr(0, 7));
    ASSERT_TRUE(std::holds_alternative<client::NeedMore>(s.action));
    EXPECT_EQ(std::get<client::NeedMore>(s.action).at_least, q.size());
}

TEST(ClientMachine, ExtendedMessagesAreHeldUntilSync) {
    Driver d;
    const std::string batch =
        concat({parse("", "SELECT $1"), bind("", ""), describe_portal(), execute(), sync()});
    d.feed(batch);
    ASSERT_EQ(d.actions.size(), 5u);
    EXPECT_TRUE(d.at<client::Held>(0).first);
    EXPECT_EQ(d.at<client::Held>(0).type, 'P');
    EXPECT_FALSE(d.at<client::Held>(1).first);
    EXPECT_TRUE(d.at<client::RunBatch>(4).sync);
    ASSERT_EQ(d.batches.size(), 1u);
    EXPECT_EQ(d.batches[0].bytes, batch) << "the Sync is part of the batch";
    EXPECT_TRUE(d.batches[0].has_parse);
    EXPECT_TRUE(d.m.idle());
}

TEST(ClientMachine, ABatchWithoutParseSaysSo) {
    Driver d;
    d.feed(concat({bind("", "s1"), execute(), sync()}));
    ASSERT_EQ(d.batches.size(), 1u);
    EXPECT_FALSE(d.batches[0].has_parse);
}

TEST(ClientMachine, PipelinedBatchesRunOneAfterAnother) {
    // pgjdbc's executeBatch before one Sync, then a second request pipelined behind it.
    Driver d;
    std::string first = parse("S_1", "INSERT INTO t VALUES ($1)");
    for (int i = 0; i < 3; ++i) first += bind("", "S_1") + execute();
    first += sync();
    const std::string second = concat({bind("", "S_1"), execute(), sync()});
    d.feed(first + second);
    ASSERT_EQ(d.batches.size(), 2u);
    EXPECT_EQ(d.batches[0].bytes, first);
    EXPECT_EQ(d.batches[1].bytes, second);
    EXPECT_TRUE(d.buffer.empty());
}

TEST(ClientMachine, FlushRunsTheBatchWithoutSync) {
    Driver d;
    d.feed(concat({parse("a", "SELECT 1"), describe_portal(), flush()}));
    ASSERT_EQ(d.batches.size(), 1u);
    EXPECT_FALSE(d.at<client::RunBatch>(2).sync);
}

TEST(ClientMachine, AQueryAfterUnsyncedMessagesRunsThemFirst) {
    Driver d;
    d.feed(concat({parse("", "SELECT 1"), query("SELECT 2")}));
    ASSERT_EQ(d.actions.size(), 3u);
    EXPECT_FALSE(d.at<client::RunBatch>(1).sync);
    EXPECT_EQ(d.at<client::Query>(2).sql, "SELECT 2");
    EXPECT_EQ(d.batches.at(0).bytes, parse("", "SELECT 1"));
}

TEST(ClientMachine, AfterAnErrorEverythingUpToSyncIsDiscarded) {
    Driver d;
    d.feed(concat({parse("", "SELEC 1"), bind("", ""), execute(), sync()}));
    ASSERT_EQ(d.batches.size(), 1u);
    d.m.skip_to_sync();  // the batch failed: the protocol skips to the next Sync
    d.feed(concat({bind("", ""), execute()}));
    EXPECT_FALSE(d.m.has_batch()) << "skipped messages are not held";
    EXPECT_TRUE(d.m.skipping());
    d.feed(sync());
    ASSERT_EQ(d.batches.size(), 2u);
    EXPECT_EQ(d.batches[1].bytes, sync()) << "only the Sync remains, to be answered";
    EXPECT_TRUE(d.m.idle());
    // The next request is held again.
    d.feed(concat({parse("", "SELECT 1"), sync()}));
    EXPECT_EQ(d.batches.at(2).bytes, concat({parse("", "SELECT 1"), sync()}));
}

TEST(ClientMachine, CopyMessagesStreamTogether) {
    Driver d;
    const std::string copy = concat({copy_data("1\tone\n"), copy_data("2\ttwo\n"), copy_done()});
    d.feed(copy + query("SELECT 1"));
    ASSERT_EQ(d.actions.size(), 2u);
    EXPECT_EQ(d.at<client::Copy>(0).chunk, copy);
    EXPECT_EQ(d.at<client::Query>(1).sql, "SELECT 1");
}

TEST(ClientMachine, TerminateCloses) {
    Driver d;
    d.feed(terminate() + query("SELECT 1"));
    ASSERT_EQ(d.actions.size(), 1u);
    EXPECT_TRUE(std::holds_alternative<client::Terminate>(d.actions[0]));
    EXPECT_TRUE(d.m.closed());
}

TEST(ClientMachine, AQueryWithoutTerminatorIsAProtocolViolation) {
    Driver d;
    d.feed(msg('Q', "SELECT 1"));
    const auto& f = d.at<client::Fatal>(0);
    EXPECT_STREQ(f.sqlstate, "08P01");
    EXPECT_NE(f.message.find("missing string terminator"), std::string::npos);
    EXPECT_TRUE(d.m.closed());
}

TEST(ClientMachine, UnknownTypesAreNamedPrintablyOrInHex) {
    Driver d;
    d.feed(msg('y'));
    EXPECT_NE(d.at<client::Fatal>(0).message.find("'y'"), std::string::npos);
    Driver n;
    n.feed(msg('\0'));
    EXPECT_NE(n.at<client::Fatal>(0).message.find("0x00"), std::string::npos)
        << "a NUL must never reach a wire string";
}

TEST(ClientMachine, ALengthOverTheLimitIsRefusedBeforeBuffering) {
    Driver d(false, 1024);
    d.feed(std::string("Q") + be32(1 << 30));  // a header claiming a gigabyte, nothing more
    const auto& f = d.at<client::Fatal>(0);
    EXPECT_STREQ(f.sqlstate, "08P01");
}

TEST(ClientMachine, ALengthBelowFourIsMalformed) {
    Driver d;
    d.feed(std::string("S") + be32(3));
    EXPECT_STREQ(d.at<client::Fatal>(0).sqlstate, "08P01");
}

TEST(ClientMachine, TheAdminConsoleSpeaksOnlySimpleQueries) {
    Driver d(true);
    d.feed(query("SHOW POOLS") + parse("", "SHOW POOLS"));
    EXPECT_EQ(d.at<client::Query>(0).sql, "SHOW POOLS");
    const auto& f = d.at<client::Fatal>(1);
    EXPECT_STREQ(f.sqlstate, "0A000");
}

TEST(ClientMachine, AFunctionCallRunsAfterHeldMessages) {
    Driver d;
    const std::string call = msg('F', be32(764) + std::string(6, '\0'));  // lo_open, no args
    d.feed(parse("", "SELECT 1") + call);
    ASSERT_EQ(d.actions.size(), 3u);
    EXPECT_FALSE(d.at<client::RunBatch>(1).sync);
    EXPECT_EQ(d.at<client::FunctionCall>(2).frame, call);
}

TEST(ClientMachine, TheBatchBufferIsReused) {
    ClientMachine m;
    m.configure(1 << 20, false);
    std::string spare;
    spare.reserve(4096);
    const char* spare_data = spare.data();
    const std::string s = sync();
    (void)m.step(s);
    TakenBatch t = m.take_batch(std::move(spare));
    EXPECT_EQ(t.bytes, s);
    (void)m.step(s);
    TakenBatch u = m.take_batch({});
    EXPECT_EQ(u.bytes.data(), spare_data) << "the spare became the next batch's buffer";
}

}  // namespace
}  // namespace sg::proxy::core
