# A Fitbit app written the way it was in 2015, for Fitbit's OAuth 1.0a API
# (which Fitbit turned off in 2016): classic Sinatra and the oauth gem.
#
# The only line changed since then is SITE below: it now points at a
# caddy-fitbit gateway, which speaks OAuth 1.0a to this app and OAuth 2.0
# with PKCE to Fitbit.
#
#   ruby app.rb                # http://localhost:4567
#   ruby app.rb -p 5000 -o 127.0.0.1
#
# Debian packages: ruby ruby-sinatra ruby-oauth ruby-webrick. See README.md.
require 'sinatra'
require 'oauth'
require 'json'
require 'date'
require 'securerandom'

SITE = ENV.fetch('FITBIT_SITE', 'http://localhost:8080')  # was 'https://api.fitbit.com'

# The app's registration (dev.fitbit.com, "Register an app"). The defaults are
# the consumer the caddy-fitbit demo registers at its gateway.
CONSUMER_KEY    = ENV.fetch('FITBIT_CONSUMER_KEY', 'demo-legacy-app')
CONSUMER_SECRET = ENV.fetch('FITBIT_CONSUMER_SECRET', 'demo-legacy-secret')

enable :sessions
set :session_secret, ENV.fetch('SESSION_SECRET') { SecureRandom.hex(64) }
set :show_exceptions, false

# Connected users' access tokens, by Fitbit user id. A real app kept these in
# its database; the browser's session only holds the user id.
USERS = {}
USERS_LOCK = Mutex.new

# Network failures talking to Fitbit.
NETWORK_ERRORS = [SocketError, SystemCallError, Timeout::Error, EOFError,
                  IOError, OpenSSL::SSL::SSLError, Net::HTTPBadResponse,
                  Net::HTTPExceptions]

helpers do
  def consumer
    OAuth::Consumer.new(CONSUMER_KEY, CONSUMER_SECRET,
                        :site               => SITE,
                        :request_token_path => '/oauth/request_token',
                        :authorize_path     => '/oauth/authorize',
                        :access_token_path  => '/oauth/access_token',
                        :http_method        => :post)
  end

  def current_user
    USERS_LOCK.synchronize { USERS[session[:user_id]] }
  end

  def access_token
    user = current_user
    OAuth::AccessToken.new(consumer, user[:token], user[:secret]) if user
  end

  def h(text)
    Rack::Utils.escape_html(text.to_s)
  end

  # Stops the request with the error page.
  def fail_with(title, status = 502, detail = nil)
    @title, @detail = title, detail
    halt status, erb(:error)
  end

  # Runs the block, turning whatever Fitbit (or the network) throws into the
  # error page.
  def talking_to_fitbit
    yield
  rescue OAuth::Unauthorized => e
    res = e.request
    fail_with("Fitbit refused the request: #{res.code} #{res.message}", 502, describe(res.body))
  rescue JSON::ParserError => e
    fail_with('Fitbit answered something that is not JSON', 502, e.message)
  rescue *NETWORK_ERRORS => e
    fail_with("Could not talk to Fitbit at #{SITE}", 502, "#{e.class}: #{e.message}")
  end

  # Fitbit's error envelope as one line per error; other bodies as they are.
  def describe(body)
    errors = JSON.parse(body.to_s)['errors']
    return body.to_s[0, 2000] unless errors.is_a?(Array)
    errors.map { |err| "#{err['errorType']} (#{err['fieldName']}): #{err['message']}" }.join("\n")
  rescue JSON::ParserError, TypeError
    body.to_s[0, 2000]
  end

  # The parsed JSON of a successful response, or the error page.
  def json_of(response)
    unless response.is_a?(Net::HTTPSuccess)
      fail_with("Fitbit answered #{response.code} #{response.message}", 502, describe(response.body))
    end
    JSON.parse(response.body)
  end

  def require_user!
    redirect to('/') unless current_user
  end
end

error do
  @title = 'Something went wrong'
  @detail = env['sinatra.error'].class.name
  erb :error
end

get '/' do
  @user = current_user
  erb :index
end

get '/login' do
  talking_to_fitbit do
    request_token = consumer.get_request_token(:oauth_callback => url('/callback'))
    fail_with('Fitbit gave no request token') unless request_token.token
    session[:request_token] = request_token.token
    session[:request_token_secret] = request_token.secret
    redirect request_token.authorize_url
  end
end

get '/callback' do
  unless session[:request_token] && params[:oauth_token] == session[:request_token]
    fail_with('This sign-in has expired or is not yours; please connect again.', 400)
  end
  fail_with('Fitbit did not authorize the app.', 400) if params[:oauth_verifier].to_s.empty?
  talking_to_fitbit do
    request_token = OAuth::RequestToken.new(consumer, session[:request_token], session[:request_token_secret])
    token = request_token.get_access_token(:oauth_verifier => params[:oauth_verifier])
    user_id = token.params[:encoded_user_id]
    fail_with('Fitbit gave no user id with the access token') if user_id.to_s.empty?
    USERS_LOCK.synchronize do
      USERS[user_id] = { :id => user_id, :token => token.token, :secret => token.secret }
    end
    session.delete(:request_token)
    session.delete(:request_token_secret)
    session[:user_id] = user_id
    redirect to('/profile')
  end
end

get '/profile' do
  require_user!
  @user = current_user
  talking_to_fitbit do
    @profile = json_of(access_token.get('/1/user/-/profile.json'))['user'] || {}
  end
  erb :profile
end

get '/steps' do
  require_user!
  @date = Date.today.strftime('%Y-%m-%d')
  talking_to_fitbit do
    @day = json_of(access_token.get("/1/user/-/activities/date/#{@date}.json"))
  end
  @summary = @day['summary'] || {}
  @goals = @day['goals'] || {}
  @activities = @day['activities'] || []
  erb :steps
end

# Logs a 30-minute walk for today: a signed form POST.
post '/walk' do
  require_user!
  talking_to_fitbit do
    response = access_token.post('/1/user/-/activities.json',
                                 'activityName'   => 'Walk',
                                 'manualCalories' => '120',
                                 'startTime'      => '12:00',
                                 'durationMillis' => (30 * 60 * 1000).to_s,
                                 'date'           => Date.today.strftime('%Y-%m-%d'))
    json_of(response)
  end
  redirect to('/steps')
end

get '/weight' do
  require_user!
  @date = Date.today.strftime('%Y-%m-%d')
  talking_to_fitbit do
    @weights = json_of(access_token.get("/1/user/-/body/log/weight/date/#{@date}.json"))['weight'] || []
  end
  erb :weight
end

# Logs a weigh-in of 72.5 kg for today: a signed form POST.
post '/weight' do
  require_user!
  talking_to_fitbit do
    json_of(access_token.post('/1/user/-/body/log/weight.json',
                              'weight' => '72.5',
                              'date'   => Date.today.strftime('%Y-%m-%d'),
                              'time'   => '07:30:00'))
  end
  redirect to('/weight')
end

get '/logout' do
  session.clear
  redirect to('/')
end

__END__

@@ layout
<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>My Fitbit app</title></head>
<body>
<h1>My Fitbit app</h1>
<%= yield %>
</body>
</html>

@@ index
<% if @user %>
<p>Connected as Fitbit user <%= h @user[:id] %>.</p>
<p><a href="/profile">Profile</a> &middot; <a href="/steps">Today's steps</a> &middot; <a href="/logout">Sign out</a></p>
<% else %>
<p><a href="/login">Connect your Fitbit</a></p>
<% end %>

@@ profile
<h2>Profile</h2>
<dl>
  <dt>Name</dt><dd id="display-name"><%= h @profile['displayName'] %></dd>
  <dt>Fitbit user id</dt><dd id="encoded-user-id"><%= h @user[:id] %></dd>
  <dt>Member since</dt><dd><%= h @profile['memberSince'] %></dd>
</dl>
<p><a href="/steps">Today's steps</a> &middot; <a href="/logout">Sign out</a></p>

@@ steps
<h2>Steps on <%= h @date %></h2>
<p><span id="steps"><%= h @summary['steps'] %></span> steps (goal: <%= h @goals['steps'] %>)</p>
<h3>Logged activities</h3>
<ul id="activities">
<% @activities.each do |a| %>
  <li><%= h a['activityName'] || a['name'] %>, <%= h a['startTime'] %>, <%= h a['durationMillis'].to_i / 60000 %> min</li>
<% end %>
</ul>
<form method="post" action="/walk"><button type="submit">Log a 30-minute walk</button></form>
<p><a href="/profile">Profile</a> &middot; <a href="/weight">Weight</a></p>

@@ weight
<h2>Weight on <%= h @date %></h2>
<ul id="weights">
<% @weights.each do |w| %>
  <li><%= h w['time'] %>, <%= h w['weight'] %> kg</li>
<% end %>
</ul>
<form method="post" action="/weight"><button type="submit">Log 72.5 kg</button></form>
<p><a href="/steps">Today's steps</a></p>

@@ error
<h2>Sorry</h2>
<p id="error"><%= h @title %></p>
<% unless @detail.to_s.empty? %><pre><%= h @detail %></pre><% end %>
<p><a href="/">Back</a></p>
