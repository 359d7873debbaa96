#!/usr/bin/env escript
%% erlang_tls_peer.escript: a TLS client or server on Erlang/OTP's own TLS stack (the ssl application), which
%% writes the session's key log lines (keep_secrets, connection_information keylog); make_real_captures.sh runs it.
%%   escript erlang_tls_peer.escript client HOST PORT tlsv1.3|tlsv1.2 KEYLOG   (GET / over HTTP/1.0, reads the answer)
%%   escript erlang_tls_peer.escript server PORT CERT KEY KEYLOG            (one connection: answers one request)
main(["client", Host, Port, Version, Keylog]) ->
    ssl:start(),
    V = list_to_atom(Version),
    {ok, S} = ssl:connect(Host, list_to_integer(Port),
                          [binary, {active, false}, {versions, [V]}, {verify, verify_none},
                           {server_name_indication, "localhost"}, {keep_secrets, true}], 10000),
    ok = ssl:send(S, <<"GET / HTTP/1.0\r\n\r\n">>),
    Data = recv_all(S, <<>>),
    {ok, [{keylog, Lines}]} = ssl:connection_information(S, [keylog]),
    write_keylog(Keylog, Lines),
    ssl:close(S),
    io:format("received ~p bytes~n", [byte_size(Data)]);
main(["server", Port, Cert, Key, Keylog]) ->
    ssl:start(),
    {ok, L} = ssl:listen(list_to_integer(Port), [binary, {active, false}, {reuseaddr, true},
                                                  {versions, ['tlsv1.3', 'tlsv1.2']},
                                                  {certfile, Cert}, {keyfile, Key}, {keep_secrets, true}]),
    {ok, T} = ssl:transport_accept(L),
    {ok, S} = ssl:handshake(T, 10000),
    {ok, Req} = ssl:recv(S, 0, 10000),
    ok = ssl:send(S, [<<"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello from Erlang/OTP ssl, you sent ">>,
                      integer_to_binary(byte_size(Req)), <<" bytes\n">>]),
    {ok, [{keylog, Lines}]} = ssl:connection_information(S, [keylog]),
    write_keylog(Keylog, Lines),
    ssl:close(S).

recv_all(S, Acc) ->
    case ssl:recv(S, 0, 5000) of
        {ok, D} -> recv_all(S, <<Acc/binary, D/binary>>);
        _ -> Acc
    end.

write_keylog(File, Lines) ->
    ok = file:write_file(File, [[L, $\n] || L <- Lines], [append]).
